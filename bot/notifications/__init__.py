"""Messages the bot sends on its own initiative: the planner fills the outbox, the dispatcher
empties it under Telegram's limits. Only `telegram_sender` and `jobs` know python-telegram-bot.
"""
