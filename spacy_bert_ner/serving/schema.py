"""The API's request and answer, as pydantic models: FastAPI checks requests against them and
publishes them in `/openapi.json`.

A request has `texts` (a list) or `text` (one), never both; `min_score` (0..1) leaves out entities
scored below it, as `predict --min-score` does; `render` adds displaCy's markup of each text (the
page asks for it). Any other field is refused, so a misspelt one is named instead of ignored. A
text must be Unicode: JSON's `\\ud800` escapes can smuggle in a lone surrogate, which no UTF-8
answer could carry back, and is refused with the field's place.
"""
from typing import List, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _unicode(text: str, where: str) -> str:
    for position, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raise ValueError(f"{where} has a lone surrogate U+{ord(char):04X} at character {position}, "
                             "which is not Unicode text")
    return text


class EntitiesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: Optional[List[str]] = Field(None, description="The texts to find entities in.")
    text: Optional[str] = Field(None, description="One text (instead of texts).")
    min_score: Optional[float] = Field(None, ge=0.0, le=1.0, description="Leave out entities scored below this.")
    render: bool = Field(False, description="Add each text's entities as displaCy HTML.")

    @field_validator("texts")
    @classmethod
    def _texts_are_unicode(cls, texts: Optional[List[str]]) -> Optional[List[str]]:
        for number, text in enumerate(texts or []):
            _unicode(text, f"text {number}")
        return texts

    @field_validator("text")
    @classmethod
    def _text_is_unicode(cls, text: Optional[str]) -> Optional[str]:
        return None if text is None else _unicode(text, "text")

    @model_validator(mode="after")
    def _one_of_text_and_texts(self) -> "EntitiesRequest":
        if (self.texts is None) == (self.text is None):
            raise ValueError("give either texts (a list of strings) or text (one string)")
        return self

    def all_texts(self) -> List[str]:
        return self.texts if self.texts is not None else [self.text]


class Entity(BaseModel):
    start: int = Field(description="Character offset of the entity's start (Unicode code points).")
    end: int = Field(description="Character offset after its end: text[start:end] is the entity.")
    label: str
    text: str
    score: Optional[float] = Field(description="Confidence in 0..1; null from a pipeline that scores none.")


class TextEntities(BaseModel):
    entities: List[Entity]
    html: Optional[str] = Field(None, description="displaCy's markup, with render: true.")


class EntitiesResponse(BaseModel):
    results: List[TextEntities] = Field(description="One per text, in the request's order.")


class ErrorResponse(BaseModel):
    error: str = Field(description="What was wrong, naming the field or the limit.")
    error_id: Optional[str] = Field(None, description="With a 500: the id under which the server logged it.")
