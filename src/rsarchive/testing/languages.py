"""Telling Vietnamese text from English text in tests (issue #21): by its letters and its words.

Vietnamese writes its tones and vowels with diacritics (ă â đ ê ô ơ ư and the five tone marks);
a Vietnamese sentence has many of them and common words such as "của", "và", "dữ liệu".  An English
sentence has (almost) none: a proper name such as "QĐ-TTg" may keep one, hence the ratio.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["VIETNAMESE_LETTERS", "is_english", "is_vietnamese", "vietnamese_ratio"]

VIETNAMESE_LETTERS = frozenset(
    "ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
)
_VI_WORDS = {"của", "và", "dữ", "liệu", "các", "được", "không", "là", "có", "một", "cho", "trong", "theo",
             "ảnh", "người", "yêu", "cầu", "ngày", "mã", "tên", "đăng", "nhập", "điều", "những", "với"}
_EN_WORDS = {"the", "of", "and", "a", "an", "to", "in", "is", "for", "with", "by", "as", "data", "your",
             "request", "requests", "image", "log", "not", "user", "name"}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def vietnamese_ratio(text: str) -> float:
    """The share of letters in ``text`` that only Vietnamese writes (0 for English)."""
    letters = [c for c in unicodedata.normalize("NFC", text).lower() if c.isalpha()]
    return sum(c in VIETNAMESE_LETTERS for c in letters) / len(letters) if letters else 0.0


def is_vietnamese(text: str) -> bool:
    """Vietnamese with its diacritics: at least 8 % Vietnamese letters and a common Vietnamese word."""
    words = {w.lower() for w in _WORD.findall(unicodedata.normalize("NFC", text))}
    return vietnamese_ratio(text) >= 0.08 and bool(words & _VI_WORDS)


def is_english(text: str) -> bool:
    """English: (almost) no Vietnamese letters and a common English word."""
    words = {w.lower() for w in _WORD.findall(text)}
    return vietnamese_ratio(text) < 0.02 and bool(words & _EN_WORDS)
