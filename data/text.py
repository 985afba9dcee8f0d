"""What people write on boards and in notebooks: words by real English frequency, plus the numbers,
dates, money, acronyms and punctuation that notes are full of."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from functools import lru_cache

ACRONYMS = (
    "Q1 Q2 Q3 Q4 KPI KPIs TODO OKR OKRs ROI CEO CTO CFO HR PR QA UX UI API APIs MVP FAQ ETA EOD EOW "
    "FYI ASAP R&D B2B B2C SLA SaaS AI ML IT PM AM USA UK EU NYC SQL CSV PDF URL IoT v1 v2 v2.0 v3.1 "
    "H1 H2 FY24 FY25 FY26 Mon Tue Wed Thu Fri Sat Sun Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec "
    "etc e.g. i.e. vs. w/ w/o Dr. Mr. Mrs. No. #1 #2 #3 x2 3x 10x 1st 2nd 3rd 4th"
).split()
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
HYPHEN_PREFIXES = "follow co re pre non self multi cross e sign check long short end".split()
HYPHEN_SUFFIXES = "up in out off based driven level term time side to-end".split()
TRAILING = ".,:;!?"
ASCII_PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")


@lru_cache(maxsize=1)
def english_vocabulary(n: int = 50000) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Top-n English words (ASCII only) with sampling weights flattened from Zipf frequencies,
    so that the long tail still appears: the recognizer must read rare words too."""
    from wordfreq import top_n_list, zipf_frequency

    words, weights = [], []
    for word in top_n_list("en", n):
        if all(c in ASCII_PRINTABLE for c in word) and any(c.isalpha() for c in word):
            words.append(word)
            # zipf ranges ~1..7.7; 10**(zipf/4) compresses the head: "the" is ~40x "budget", not 3000x.
            weights.append(10 ** (zipf_frequency(word, "en") / 4))
    return tuple(words), tuple(weights)


@dataclass
class TextSampler:
    """Samples word- and phrase-level transcriptions. `charset` limits output to what a font can draw."""

    seed: int | None = None
    p_number: float = 0.12
    p_acronym: float = 0.06
    p_phrase: float = 0.15
    max_phrase_words: int = 4

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.words, weights = english_vocabulary()
        self.cum_weights = list(_accumulate(weights))

    def word(self) -> str:
        w = self.rng.choices(self.words, cum_weights=self.cum_weights)[0]
        r = self.rng.random()
        if r < 0.22:
            w = w.capitalize()
        elif r < 0.32:
            w = w.upper()
        if self.rng.random() < 0.03:
            w = f"{w}-{self.rng.choice(HYPHEN_SUFFIXES)}" if self.rng.random() < 0.5 \
                else f"{self.rng.choice(HYPHEN_PREFIXES)}-{w}"
        return w

    def number(self) -> str:
        rng = self.rng
        kind = rng.randrange(12)
        if kind == 0:
            return str(rng.randint(0, 99))
        if kind == 1:
            return f"{rng.randint(100, 99999):,}" if rng.random() < 0.5 else str(rng.randint(100, 99999))
        if kind == 2:
            return f"{rng.uniform(0, 100):.{rng.randint(1, 2)}f}"
        if kind == 3:
            return f"{rng.choice('$$$€£')}{rng.choice([str(rng.randint(1, 999)), f'{rng.randint(1, 99)},{rng.randint(0, 999):03d}', f'{rng.randint(1, 99)}k', f'{rng.uniform(1, 99):.1f}M'])}"
        if kind == 4:
            return f"{rng.randint(1, 100)}%"
        if kind == 5:
            return f"{rng.randint(1, 31)}/{rng.randint(1, 12)}" + (f"/{rng.randint(20, 30)}" if rng.random() < 0.4 else "")
        if kind == 6:
            return f"20{rng.randint(10, 30)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if kind == 7:
            return f"{rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45', f'{rng.randint(0, 59):02d}'])}" + rng.choice(["", "", "am", "pm"])
        if kind == 8:
            return f"{rng.randint(1, 12)}{rng.choice(['am', 'pm', 'h'])}"
        if kind == 9:
            return f"{rng.randint(1, 31)} {rng.choice(MONTHS)}" if rng.random() < 0.5 else f"{rng.choice(MONTHS)} {rng.randint(1, 31)}"
        if kind == 10:
            return f"{rng.randint(1, 20)}." if rng.random() < 0.5 else f"{rng.randint(1, 9)})"
        return f"{rng.choice(['+', '-', '~', '>', '<', '#', 'x'])}{rng.randint(1, 500)}"

    def token(self) -> str:
        r = self.rng.random()
        if r < self.p_number:
            return self.number()
        if r < self.p_number + self.p_acronym:
            return self.rng.choice(ACRONYMS)
        return self.decorate(self.word())

    def decorate(self, w: str) -> str:
        r = self.rng.random()
        if r < 0.08:
            return w + self.rng.choice(TRAILING)
        if r < 0.10:
            return f"({w})"
        if r < 0.115:
            return f'"{w}"'
        if r < 0.125:
            return f"{w}'s"
        return w

    def text(self, charset: str | None = None) -> str:
        """A word (most of the time) or a short phrase, drawable with `charset`."""
        for _ in range(20):
            if self.rng.random() < self.p_phrase:
                n = self.rng.randint(2, self.max_phrase_words)
                t = " ".join(self.token() for _ in range(n))
            else:
                t = self.token()
            if charset is None or all(c in charset for c in t):
                return t
        kept = "".join(c for c in t if c in charset).strip()
        return kept or next((c for c in charset if c.isalnum()), charset.strip()[:1] or "-")

    def line(self, min_words: int = 2, max_words: int = 7, charset: str | None = None) -> str:
        """A line of a list or note, for pages."""
        n = self.rng.randint(min_words, max_words)
        words = [self.token() for _ in range(n)]
        t = " ".join(words)
        if charset is not None:
            t = "".join(c for c in t if c in charset)
        return t.strip() or "note"


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total
