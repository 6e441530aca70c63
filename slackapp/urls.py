from django.urls import path

from . import views

app_name = "slack"
urlpatterns = [
    path("events", views.events, name="events"),
    path("commands", views.commands, name="commands"),
    path("interactions", views.interactions, name="interactions"),
]
