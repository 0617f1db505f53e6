"""gettext catalogs: `uk` (the default) and `en`, one `messages.po` each."""

from importlib import resources
from importlib.abc import Traversable

LANGUAGES = ("uk", "en")


def catalog_file(lang: str) -> Traversable:
    """The .po file of a language, wherever the package is installed."""
    return resources.files(__name__) / lang / "LC_MESSAGES" / "messages.po"
