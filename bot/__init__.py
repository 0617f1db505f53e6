"""amu-bot: the Telegram service desk of a municipal association."""
