from django.urls import path

from tenants import session_views

urlpatterns = [
    path("session", session_views.SessionView.as_view(), name="session"),
    path("session/csrf", session_views.CsrfView.as_view(), name="session-csrf"),
    path("session/login", session_views.LoginView.as_view(), name="session-login"),
    path("session/logout", session_views.LogoutView.as_view(), name="session-logout"),
    path("session/client", session_views.ClientSwitchView.as_view(), name="session-client"),
]
