from django.urls import path

from .api import AdminUserListApi, MeApi

urlpatterns = [
    path("me", MeApi.as_view(), name="me"),
    path("admin/users", AdminUserListApi.as_view(), name="admin-users"),
]
