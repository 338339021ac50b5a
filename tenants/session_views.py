"""Dashboard sign-in: /api/v1/session endpoints. Thin: validate, call tenants.memberships, answer.

The SPA calls GET /csrf once (sets the csrftoken cookie), then sends `X-CSRFToken` with every
POST. Login is CSRF-protected too (against login CSRF) and throttled per (username, IP).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from central_logger.client_ip import client_ip
from central_logger.errors import ApiError
from central_logger.ratelimit import DASHBOARD_LOGIN, login_identity
from central_logger.schema import ErrorEnvelopeSerializer
from tenants.memberships import (
    current_client_switch,
    current_membership,
    memberships_of,
)
from tenants.models import Membership
from tenants.services import TenantError
from tenants.session_auth import DjangoUserSessionAuthentication
from tenants.session_serializers import (
    ClientSwitchSerializer,
    CsrfSerializer,
    LoginSerializer,
    SessionStateSerializer,
)

TAGS = ["session"]


def _errors(**described: str) -> dict[int, OpenApiResponse]:
    """The error envelope for each status an endpoint can answer, with its meaning here."""
    common = {"429": "Rate limited; see Retry-After.", "503": "Database unavailable; see Retry-After."}
    return {int(code.lstrip("_")): OpenApiResponse(ErrorEnvelopeSerializer, description=text)
            for code, text in {**common, **described}.items()}


def _client_out(membership: Membership) -> dict[str, str]:
    client = membership.client
    return {"slug": client.slug, "name": client.name or client.slug, "role": membership.role}


def session_payload(*, user: Any, session: Any) -> dict[str, Any]:
    """What GET /api/v1/session answers; also embedded in the dashboard's index.html."""
    memberships = memberships_of(user=user)
    current = current_membership(memberships=memberships, session=session)
    return {
        "user": {"username": user.get_username(), "email": user.email or ""},
        "memberships": [_client_out(m) for m in memberships],
        "current_client": _client_out(current) if current else None,
        "session_expires_at": session.get_expiry_date(),
    }


def session_state(request: Request) -> dict[str, Any]:
    return session_payload(user=request.user, session=request._request.session)


class _SessionAPIView(APIView):
    """A method an endpoint doesn't have is a 405 before anything else (not a 401 first)."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


class SessionView(_SessionAPIView):
    authentication_classes = [DjangoUserSessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="session_get", tags=TAGS, summary="The signed-in user, their clients and the current one",
                   responses={200: SessionStateSerializer, **_errors(_401="Not signed in.")})
    def get(self, request: Request) -> Response:
        return Response(session_state(request))


@method_decorator(ensure_csrf_cookie, name="get")
class CsrfView(_SessionAPIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="session_csrf", tags=TAGS, summary="Set the CSRF cookie", auth=[],
                   responses={200: CsrfSerializer})
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request._request)})


class LoginView(_SessionAPIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="session_login", tags=TAGS, summary="Sign in with a dashboard user", auth=[],
        request=LoginSerializer,
        responses={
            200: SessionStateSerializer,
            **_errors(_400="Missing username or password.", _401="Wrong username or password.",
                      _403="CSRF token missing or wrong, or the user has no client.",
                      _429="Too many failed sign-ins for this username from this address; see Retry-After."),
        },
    )
    def post(self, request: Request) -> Response:
        # Django's CsrfViewMiddleware skips DRF views; check here so a third-party page cannot
        # sign a victim's browser into the attacker's account (login CSRF).
        DjangoUserSessionAuthentication().enforce_csrf(request)
        form = LoginSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username, password = form.validated_data["username"], form.validated_data["password"]
        ip = client_ip(request)
        ident = login_identity(username, ip)
        retry_after = DASHBOARD_LOGIN.retry_after(ident)
        if retry_after is not None:
            raise ApiError(f"Too many failed sign-in attempts; try again in {retry_after} s.",
                           code="rate_limited", status_code=429, details={"retry_after": retry_after})
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            DASHBOARD_LOGIN.failed(ident)
            raise ApiError("Wrong username or password.", code="invalid_credentials", status_code=401)
        if not memberships_of(user=user):
            # The password was right, so this is not a guess: don't count it, but don't sign in
            # a user who could see nothing (operators use /admin/).
            raise ApiError("This user has no access to any client; ask an operator to add a membership.",
                           code="no_membership", status_code=403)
        DASHBOARD_LOGIN.succeeded(ident)
        login(request._request, user)  # rotates the session key and the CSRF token
        # An absolute end (not "AGE after the last change"): switching clients or any other
        # session write must not keep a sign-in alive forever.
        request._request.session.set_expiry(timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE))
        request.user = user
        return Response(session_state(request))


class LogoutView(_SessionAPIView):
    authentication_classes = [DjangoUserSessionAuthentication]
    permission_classes = [AllowAny]

    @extend_schema(operation_id="session_logout", tags=TAGS, summary="Sign out", request=None,
                   responses={204: OpenApiResponse(description="Signed out (also when already signed out)."),
                              **_errors(_403="CSRF token missing or wrong.")})
    def post(self, request: Request) -> Response:
        logout(request._request)  # flushes the session server-side
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClientSwitchView(_SessionAPIView):
    authentication_classes = [DjangoUserSessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="session_client_switch", tags=TAGS, summary="Switch the current client",
        request=ClientSwitchSerializer,
        responses={200: SessionStateSerializer,
                   **_errors(_400="No client given.", _401="Not signed in.", _403="CSRF token missing or wrong.",
                             _404="Not one of your clients.")},
    )
    def post(self, request: Request) -> Response:
        form = ClientSwitchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            current_client_switch(user=request.user, session=request._request.session,
                                  client_slug=form.validated_data["client"])
        except TenantError:
            # 404 like every other tenant object you can't see: no hint that the client exists.
            raise ApiError("Not found.", code="not_found", status_code=404) from None
        return Response(session_state(request))
