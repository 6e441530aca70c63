from django.apps import AppConfig


class SlackappConfig(AppConfig):
    name = "slackapp"
