"""`python -m bot` is the same as the `amu-bot` command."""

from bot.cli import main

main()
