"""`{{ name|end_sentence }}`: close a sentence that ends on a name (penpals.text)."""

from django import template

from penpals.text import end_sentence as end_sentence_text

register = template.Library()


@register.filter(is_safe=True)
def end_sentence(value) -> str:
    """The value with a full stop after it, unless it already ends a sentence
    ("Tasha R." stays as it is)."""
    return end_sentence_text(str(value))
