"""Email normalisation: from a raw email (subject, text body, HTML body) to the customer's newest words.

What is removed, and why: the model was taught on short customer queries, so everything that is not the
customer's newest message is noise that can only mislead it (quoted history may even quote *another* urgent
email). Removed: HTML markup, quoted history (``On ... wrote:``, ``> `` lines, ``-----Original Message-----``,
``From:/Sent:/To:`` header blocks, forwarded headers), signatures (``-- ``, "Sent from my ...", sign-offs and
everything under them), legal disclaimers, greetings, pleasantries and trailing courtesy lines.

Bounded work: inputs are cut before any parsing (``MAX_HTML_CHARS``, ``MAX_TEXT_CHARS``), HTML is stripped
in a few linear passes (no regex that can backtrack across the document), line rules see at most
``MAX_LINE_CHARS`` of a line and use bounded repetitions, so a 5 MB body or a pathological document costs
milliseconds, not minutes.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass

MAX_HTML_CHARS = 150_000  # markup is verbose: the newest message is always in the first few KB
MAX_TEXT_CHARS = 100_000
MAX_LINE_CHARS = 2_000  # one "line" of a minified document can be huge; the regexes below see at most this
MAX_MESSAGE_CHARS = 4_000  # what the model reads: the opening of the newest message is where the ask is

_INVISIBLE_TAGS = ("script", "style", "head", "title", "noscript", "template", "xml")
# (?=[...]): the names' first letters. Most tags fail on it at once instead of trying every name (the regex
# engine cannot skip re.I alternatives on their first letter); _HTML_QUOTE_START_RE uses the same trick.
_INVISIBLE_OPEN_RE = re.compile(
    r"<(?=[shtnx])(script|style|head|title|noscript|template|xml)\b[^<>]{0,2000}>", re.I
)
_INVISIBLE_CLOSE_RES = {name: re.compile(rf"</{name}\s*>", re.I) for name in _INVISIBLE_TAGS}
_HTML_QUOTE_START_RE = re.compile(
    r"<blockquote\b|<div\b[^<>]{0,500}?(?=[gymdo])(gmail_quote|yahoo_quoted|moz-cite-prefix|divRplyFwdMsg|"
    r"OutlookMessageHeader)",
    re.I,
)
_BLOCK_TAG_RE = re.compile(  # the most common names first: a name is tried only if those before it failed
    r"</?(?:p|br|div|td|tr|table|th|li|ul|ol|h[1-6]|hr|pre|section|article|header|footer)\b[^<>]{0,2000}>",
    re.I,
)
_ANY_TAG_RE = re.compile(r"<[!/?a-zA-Z][^<>]{0,2000}>")

_BLANK_LINES_RE = re.compile(r"\n{3,}")
_ZERO_WIDTH_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Runs of blanks, or any blank that is not a plain space: single spaces (most of them) are left alone.
_SPACES_RE = re.compile(
    r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{2,}|[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]"
)
_SPACE_RUN_RE = re.compile("  +")
# --- quoted history -------------------------------------------------------------------------------
_ON_WROTE_RE = re.compile(
    r"^(on|le|am|el|op|il)\b.{0,300}\b(wrote|a écrit|schrieb|escribió|schreef|ha scritto)\s*:?\s*$", re.I
)
_ON_START_RE = re.compile(r"^(on|le|am|el|op|il)\s.{0,200}$", re.I)
_WROTE_END_RE = re.compile(r"\b(wrote|a écrit|schrieb|escribió|schreef|ha scritto)\s*:\s*$", re.I)
_SEPARATOR_RE = re.compile(
    r"^\s*(-{2,}\s*(original message|forwarded message|message d'origine|ursprüngliche nachricht)\s*-{2,}"
    r"|begin forwarded message\s*:?|forwarded message\s*:?|_{8,}|-{8,}|={8,})\s*$",
    re.I,
)
_HEADER_RE = re.compile(
    r"^\*?(from|sent|to|cc|bcc|date|subject|reply-to|von|de|envoyé|gesendet)\*?\s*:", re.I
)
_HEADER_STRONG_RE = re.compile(r"^\*?(from|von|de)\*?\s*:", re.I)
_QUOTE_LINE_RE = re.compile(r"^\s*>")

# --- signatures, sign-offs, disclaimers ------------------------------------------------------------
_SIGNATURE_DELIMITER_RE = re.compile(r"^(--|—|-- )\s*$")
_SENT_FROM_RE = re.compile(
    r"^(sent from (my )?\S.{0,60}|get outlook for \S.{0,30}|sent via \S.{0,40}|"
    r"sent using \S.{0,40}|envoyé de mon \S.{0,30}|von meinem \S.{0,40} gesendet)$",
    re.I,
)
_SIGN_OFF_RE = re.compile(
    r"^(thanks|thank you|thanks so much|thank you so much|many thanks|thanks again|thanks in advance|"
    r"thank you in advance|thanks for your help|thank you for your help|thanks for your time|"
    r"thank you for your time|thx|ty|tia|regards|best regards|kind regards|warm regards|warmest regards|"
    r"best wishes|with thanks|with regards|respectfully|sincerely|yours sincerely|sincerely yours|"
    r"yours truly|yours faithfully|faithfully|best|all the best|cheers|cheers mate|take care|br|"
    r"rgds|kr|many thanks in advance|looking forward to hearing from you|hope to hear from you soon|"
    r"talk soon|speak soon|peace|love|xoxo|mit freundlichen grüßen|cordialement|saludos)"
    r"(\s+(and|&)\s+(regards|best|kind regards))?[\s,.!:;)-]*"
    r"(?-i:[A-Z][\w'.-]{0,20}(\s[A-Z][\w'.-]{0,20}){0,2})?\s*$",  # "Best regards, Jane Doe" on one line
    re.I,
)
_DISCLAIMER_RE = re.compile(
    r"(intended (solely )?(only )?for the (use of the )?(individual|addressee|named|person|recipient)|"
    r"intended recipient|this (e-?mail|message|communication) (and any (files|attachments) )?"
    r"(transmitted with it )?(is|are|may be|may contain|contains)( strictly)? (confidential|privileged)|"
    r"if you (have )?received this (e-?mail|message|communication) in error|"
    r"confidentiality notice|legal disclaimer|^disclaimer\s*:|"
    r"please consider the environment before printing|"
    r"(e-?mail|message)s? (is|are) not guaranteed to be (secure|error)|"
    r"unauthori[sz]ed (use|disclosure|review|dissemination|copying))",
    re.I,
)

# Gates: a line can start history, a signature or a quote only if it starts with one of these.
_MARKER_FIRST_CHARS = frozenset("-_=>—*")
_MARKER_FIRST_WORDS = frozenset(
    {"on", "le", "am", "el", "op", "il", "from", "von", "de", "begin", "forwarded", "sent", "get", "envoyé"}
)
_SIGN_OFF_FIRST_WORDS_TEXT = (
    "thanks thank thx ty tia regards best kind warm warmest with respectfully sincerely yours faithfully all "
    "cheers take br rgds kr many looking hope talk speak peace love xoxo mit cordialement saludos"
)
_SIGN_OFF_FIRST_WORDS = frozenset(_SIGN_OFF_FIRST_WORDS_TEXT.split())
_DISCLAIMER_HINT_RE = re.compile(
    "intended|confidential|received this|unauthori|disclaimer|environment before|not guaranteed|privileged"
)

# --- greetings and pleasantries ------------------------------------------------------------------
_GREETING_LINE_RE = re.compile(
    r"^(hi|hello|hey|hiya|howdy|dear|greetings|good (morning|afternoon|evening|day)|morning|afternoon|"
    r"to whom it may concern|bonjour|hallo|hola)(\s+[\w'.&-]+){0,4}\s*[,.!:;]?\s*$",
    re.I,
)
_GREETING_PREFIX_RE = re.compile(
    r"^(hi|hello|hey|hiya|dear|greetings|good (morning|afternoon|evening))( there| all| team| support"
    r"| folks| guys| everyone| sir or madam| sir| madam"
    r"| [A-Z][a-z]{1,20}(\s[A-Z][a-z]{1,20})?)?\s*[,!:;.-]\s*",
    re.I,
)
_PLEASANTRY_RE = re.compile(
    r"^(sorry|apologies) (to bother you|for (bothering you|the trouble|the inconvenience))[.!,]?\s*|"
    r"^(i )?hope (this|that|my) (e-?mail|message|note) (finds|reaches) you well[.!]?\s*|"
    r"^(i )?hope (you are|you're|all is|you've been|you have been) (well|doing well|good|great)"
    r"[^.!?]{0,30}[.!]\s*|"
    r"^(i )?hope you('re| are) (having|doing) (a )?(good|great|well)[^.!?]{0,30}[.!]\s*",
    re.I,
)
_LOOKS_LIKE_HTML_RE = re.compile(r"<(html|body|div|p|br|table|span|head)\b[^<>]{0,200}>", re.I)
_SUBJECT_PREFIX_RE = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|tr|sv|vs)\s*(\[\d+\])?\s*:\s*|\[[^\]]{0,40}\]\s*)", re.I
)
_GENERIC_SUBJECT_RE = re.compile(
    r"^(no subject|\(no subject\)|question|query|help|help needed|need help|support|support request|"
    r"enquiry|inquiry|hello|hi|request|issue|problem|urgent|important|account|my account|follow up|"
    r"following up|contact|contact us|customer service|message|feedback)[\s.!?]*$",
    re.I,
)


@dataclass(frozen=True)
class NormalisedEmail:
    """The customer's newest message, cleaned, and the subject when it adds information."""

    subject: str
    message: str

    def model_text(self) -> str:
        """What the model reads: the informative subject (if any) then the newest message."""
        if self.subject and self.message:
            return f"{self.subject}.\n{self.message}"
        return self.subject or self.message


def _drop_comments(markup: str) -> str:
    if "<!--" not in markup:
        return markup
    parts: list[str] = []
    position = 0
    while (start := markup.find("<!--", position)) >= 0:
        parts.append(markup[position:start])
        end = markup.find("-->", start + 4)
        if end < 0:  # an unclosed comment hides the rest of the document, as in a browser
            return "".join(parts)
        position = end + 3
    parts.append(markup[position:])
    return "".join(parts)


def _drop_invisible_blocks(markup: str) -> str:
    parts: list[str] = []
    position = 0
    while (opening := _INVISIBLE_OPEN_RE.search(markup, position)) is not None:
        parts.append(markup[position : opening.start()])
        closing = _INVISIBLE_CLOSE_RES[opening.group(1).lower()].search(markup, opening.end())
        if closing is None:
            return "".join(parts)
        position = closing.end()
    parts.append(markup[position:])
    return "".join(parts)


def html_to_text(markup: str) -> str:
    """Strip HTML in a few linear passes: comments and invisible blocks (script, style, head) out, the
    document cut where quoted history starts (``<blockquote>``, Gmail / Yahoo / Thunderbird / Outlook reply
    containers: a reply's newest message comes before them), block tags to line breaks, other tags out."""
    markup = _drop_invisible_blocks(_drop_comments(markup[:MAX_HTML_CHARS]))
    quote = _HTML_QUOTE_START_RE.search(markup)
    if quote is not None:
        markup = markup[: quote.start()]
    text = _ANY_TAG_RE.sub("", _BLOCK_TAG_RE.sub("\n", markup))
    return html_lib.unescape(text)


def _clean_blanks(text: str) -> str:
    """Zero-width characters out, blank runs to one space. Most mail is ASCII with single spaces: two
    substring checks then stand in for two regex passes (same result: the patterns' other characters are
    not ASCII)."""
    if not text.isascii():
        return _SPACES_RE.sub(" ", _ZERO_WIDTH_RE.sub("", text))
    if "\t" in text:
        return _SPACES_RE.sub(" ", text)
    if "  " in text:  # without tabs, the same as _SPACES_RE and much faster (it looks at double spaces only)
        return _SPACE_RUN_RE.sub(" ", text)
    return text


def _clean_lines(text: str) -> list[str]:
    """The body's lines, each cut to ``MAX_LINE_CHARS`` then stripped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _clean_blanks(text).split("\n")
    if max(map(len, lines)) > MAX_LINE_CHARS:
        lines = [line[:MAX_LINE_CHARS] for line in lines]
    return list(map(str.strip, lines))


def _history_starts_at(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _SEPARATOR_RE.match(line) or _ON_WROTE_RE.match(line):
        return True
    if _ON_START_RE.match(line):  # "On Mon, 3 Jun 2024 at 10:02, Jane <jane@x" / "x.com> wrote:" (wrapped)
        return any(_WROTE_END_RE.search(following) for following in lines[index + 1 : index + 3])
    if _HEADER_STRONG_RE.match(line):  # a From: line followed by other header lines is a quoted header block
        following = [candidate for candidate in lines[index + 1 : index + 6] if candidate]
        return sum(1 for candidate in following[:4] if _HEADER_RE.match(candidate)) >= 1
    return False


def _newest_message_lines(lines: list[str]) -> list[str]:
    kept: list[str] = []
    for index, line in enumerate(lines):
        if not line:
            kept.append(line)
            continue
        lowered = line.lower()
        first_word = lowered.split(None, 1)[0].strip(",.!:;*()")
        # Cheap gates first: most lines are plain prose and need no regex at all.
        if line[0] in _MARKER_FIRST_CHARS or first_word in _MARKER_FIRST_WORDS:
            if _history_starts_at(lines, index):
                break
            if _SIGNATURE_DELIMITER_RE.match(line) or _SENT_FROM_RE.match(line):
                break
            if _QUOTE_LINE_RE.match(line):
                continue
        if kept and first_word in _SIGN_OFF_FIRST_WORDS and _SIGN_OFF_RE.match(line):
            break  # a sign-off ends the message; a name and titles follow
        if _DISCLAIMER_HINT_RE.search(lowered) and _DISCLAIMER_RE.search(line):
            break
        kept.append(line)
    return kept


# Courtesy lines that close a message ("Any help would be appreciated.", "Looking forward to your reply.")
# carry no intent but their words do ("waiting" is how customers ask where their card is): dropped when
# trailing.
_CLOSING_COURTESY_RE = re.compile(
    r"^((please )?(advise|help)( me)?( asap| as soon as possible| urgently| quickly)?|"
    r"(any|all|your) (help|assistance|advice|support|guidance)( on this| with this| here)? "
    r"(would be|is|will be)"
    r"( much| greatly| really| very)? (appreciated|great|welcome|helpful|wonderful)|"
    r"(i )?(really )?appreciate (your|any) (help|assistance|time|support)|"
    r"(i('m| am) )?(looking forward|waiting|hoping|hope) (to|for) (hearing (back )?from you|hear(ing)? back|"
    r"your (reply|response|answer|help)|a (reply|response|quick reply|quick response))( soon)?|"
    r"(many )?(thanks|thank you)( (so|very) much)?( in advance)? for (your|the|any) "
    r"(help|time|assistance|support|attention|understanding|reply|patience)|"
    r"(thanks|thank you)( (so|very) much)? for looking into (this|it|the matter)|"
    r"(please )?(let me know|get back to me|reply( to me)?|contact me|call me)"
    r"( (asap|soon|quickly|as soon as possible|at your earliest convenience|if you need anything( else)?))?|"
    r"(i can be reached|you can reach me|feel free to (contact|call|reach) me)( [^.!?]{0,50})?)"
    r"[\s,.!:;)-]*$",
    re.I,
)


def _drop_closing_courtesy(lines: list[str]) -> list[str]:
    kept = list(lines)
    while kept and (not kept[-1] or _CLOSING_COURTESY_RE.match(kept[-1])):
        kept.pop()
    return kept if any(kept) else list(lines)  # a message that is only courtesy keeps its words


def _strip_greetings(lines: list[str]) -> list[str]:
    result: list[str] = []
    for position, line in enumerate(lines):
        if len(result) == 2:  # greetings and pleasantries open a message: the rest is kept as it is
            result += lines[position:]
            break
        if not result:
            if not line or _GREETING_LINE_RE.match(line):
                continue
            greeting = _GREETING_PREFIX_RE.match(line)
            line = line[greeting.end() :] if greeting else line
        if len(result) < 2 and (pleasantry := _PLEASANTRY_RE.match(line)):
            line = line[pleasantry.end() :].strip()
        if line or result:
            result.append(line)
    while result and not result[-1]:
        result.pop()
    return result


def clean_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and tags; empty when it says nothing about the case."""
    if not subject:
        return ""
    cleaned = _clean_blanks(subject[:500]).strip()
    attempts = 5 if (":" in cleaned or "[" in cleaned) else 0  # "RE: FW: [EXT] RE: ...", bounded
    for _ in range(attempts):
        prefix = _SUBJECT_PREFIX_RE.match(cleaned)  # never empty: it ends with ":" or "]"
        if prefix is None:
            break
        cleaned = cleaned[prefix.end() :].strip()
    return "" if _GENERIC_SUBJECT_RE.match(cleaned) else cleaned


def newest_message(text: str) -> str:
    """The customer's newest message from a plain-text body (see the module docstring)."""
    lines = _clean_lines(text[:MAX_TEXT_CHARS])
    kept = _strip_greetings(_drop_closing_courtesy(_newest_message_lines(lines)))
    message = "\n".join(kept)
    if "\n\n\n" in message:
        message = _BLANK_LINES_RE.sub("\n\n", message)
    return message[:MAX_MESSAGE_CHARS].strip()


def normalise_email(subject: str = "", text: str = "", html: str = "") -> NormalisedEmail:
    """Normalise one email. The text body wins when present; the HTML body is used when it is not."""
    body = text if text and not text.isspace() else html_to_text(html) if html else ""
    # Some senders put markup in the text part.
    if body is text and text.find("<", 0, 2_000) >= 0 and _LOOKS_LIKE_HTML_RE.search(text, 0, 2_000):
        body = html_to_text(text)
    return NormalisedEmail(subject=clean_subject(subject or ""), message=newest_message(body))
