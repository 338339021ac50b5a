from django.contrib import admin

from savedviews.models import SavedView


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ("name", "client", "owner", "page", "shared", "updated_at")
    list_filter = ("shared", "page", "client")
    search_fields = ("name", "owner__username", "client__slug")
    list_select_related = ("client", "owner")
    raw_id_fields = ("client", "owner")
