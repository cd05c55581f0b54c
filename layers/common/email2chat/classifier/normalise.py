"""Email normalisation: from a raw email (subject, text body, HTML body) to the customer's newest words.

What is removed, and why: the model was taught on short customer queries, so everything that is not the
customer's newest message is noise that can only mislead it (quoted history may even quote *another* urgent
email). Removed: HTML markup, quoted history (``On ... wrote:``, ``> `` lines, ``-----Original Message-----``,
header blocks in any language and order, forwarded headers, help-desk markers; a customer who writes under
the quote or between quotes is read on), signatures (``-- ``, "Sent from my ...", sign-offs in a dozen
languages and everything under them, and bottom-up whatever the language: contact blocks, name and title
lines), legal disclaimers and security banners, a letter's address and date, greetings, pleasantries and
courtesy lines, attachment placeholders and leaked MIME parts, lists of personal details. Mojibake (UTF-8 read
as Windows-1252), full-width forms and direction marks are repaired first. A relayed form (web contact form,
voicemail transcription, SMS gateway) keeps its message field; a forward with no words of its own is read from
the forwarded message (under any separator when the subject says "FW:"), a reply written under unmarked
history from below it, a memo from under its "To: / From: / Date:" heading; a stub text part gives way to the
HTML part, and an HTML reply left with no words by the cut at its first quote is re-read with its quotes as
"> " lines.
The rules were found on real mail shapes: ``training/realistic/README.md``.

Bounded work: inputs are cut before any parsing (``MAX_HTML_CHARS``, ``MAX_TEXT_CHARS``), HTML is stripped
in a few linear passes (no regex that can backtrack across the document), line rules see at most
``MAX_LINE_CHARS`` of a line and use bounded repetitions, so a 5 MB body or a pathological document costs
milliseconds, not minutes.
"""

from __future__ import annotations

import bisect
import html as html_lib
import itertools
import quopri
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial

MAX_HTML_CHARS = 150_000  # markup is verbose: the newest message is always in the first few KB
MAX_TEXT_CHARS = 100_000
MAX_LINE_CHARS = 2_000  # one "line" of a minified document can be huge; the regexes below see at most this
MAX_MESSAGE_CHARS = 4_000  # what the model reads: the opening of the newest message is where the ask is
_STUB_WORDS = 4  # a text part with fewer words than this may be a stub: the HTML part is read too


def _words(text: str) -> frozenset[str]:
    """The words of a whitespace-separated list (long lists read best as text)."""
    return frozenset(text.split())


def _phrases(text: str) -> tuple[str, ...]:
    """The phrases of a ``|``-separated list."""
    return tuple(phrase.strip() for phrase in text.split("|"))


def _with_punctuation(text: str) -> frozenset[str]:
    """The words of ``text`` as ``str.split`` finds them in running text: bare, or with punctuation on
    either side."""
    return frozenset(
        variant
        for word in text.split()
        for variant in (word, *(word + mark for mark in ",.!?;:)"), "(" + word)
    )


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
_WORD_CHAR_RE = re.compile(r"[^\W_]")
_BLOCKQUOTE_TAG_RE = re.compile(r"<(/?)blockquote\b[^<>]{0,500}>", re.I)
_ANY_TAG_RE = re.compile(r"<[!/?a-zA-Z][^<>]{0,2000}>")

_OTHER_LINE_BREAK_RE = re.compile("[\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
# Zero-width characters, the soft hyphen, and the direction marks and embeddings a right-to-left client
# puts around names and dates.
_ZERO_WIDTH_RE = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad\u202a-\u202e\u2066-\u2069]")
# UTF-8 read as Windows-1252 ("Iâ€™ve", "cafÃ©", "Â "): a lead byte's character and its continuation bytes'.
_CP1252_CONTINUATIONS = "".join(
    bytes([byte]).decode("cp1252", errors="ignore") or chr(byte) for byte in range(0x80, 0xC0)
)
_MOJIBAKE_RE = re.compile(
    f"[\u00c2-\u00df][{_CP1252_CONTINUATIONS}]|[\u00e0-\u00ef][{_CP1252_CONTINUATIONS}]{{2}}"
    f"|[\u00f0-\u00f4][{_CP1252_CONTINUATIONS}]{{3}}"
)
_MOJIBAKE_HINTS = ("\u00c2", "\u00c3", "\u00e2\u20ac")  # "Â", "Ã", "â€": most mojibake has one
_FULL_WIDTH_RE = re.compile("[\uff01-\uff5e]")
_FULL_WIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}  # U+FF1F "?", U+FF41 "a"
# Runs of blanks, or any blank that is not a plain space: single spaces (most of them) are left alone.
_SPACES_RE = re.compile(
    r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{2,}|[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]"
)
_SPACE_RUN_RE = re.compile("  +")
# --- quoted history -------------------------------------------------------------------------------
_WROTE_VERBS = (
    r"(wrote|a écrit|schrieb|escribió|schreef|ha scritto|skrev|escreveu|napisał(\(a\)|a)?|pisze|napsal|"
    r"kirjoitti|írta|yazd\u0131)"
)
_ON_WROTE_RE = re.compile(
    r"^(on|le|am|el|op|il|den|em|w|dnia)\b.{0,300}\b" + _WROTE_VERBS + r"\s*:?\s*$", re.I
)
# German, Dutch and Scandinavian put the verb before the name: "Am 25.03.2025 um 21:48 schrieb Jane Doe:"
# (with a date or a time).
_ON_VERB_NAME_RE = re.compile(r"^(am|op|den)\b.{0,200}\b(schrieb|schreef|skrev)( \S+){1,8}:\s*$", re.I)
_ON_START_RE = re.compile(r"^(on|le|am|el|op|il|den|em|w|dnia)\s.{0,200}$", re.I)
_WROTE_END_RE = re.compile(r"\b" + _WROTE_VERBS + r"\s*:\s*$", re.I)
# Any language: a line that names an address and ends with a colon introduces what that address wrote
# ("Am Do., 6. März 2025 um 17:21 Uhr schrieb Jane <jane@x.com>:").
_ADDRESS_ATTRIBUTION_RE = re.compile(r"[<(\[](mailto:)?\S+@[\w-]+\.[\w.-]+[>)\]].{0,40}:\s*$")
_DATE_OR_TIME_RE = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b(19|20)\d{2}\b")
_SEPARATOR_RE = re.compile(
    r"^\s*(-{2,}\s*(original message|forwarded message|message d'origine|ursprüngliche nachricht|"
    r"message transféré|weitergeleitete nachricht|mensaje reenviado|messaggio inoltrato)\s*-{2,}"
    r"|begin forwarded message\s*:?|forwarded message\s*:?|inizio messaggio inoltrato\s*:?|"
    r"(mensaje|mensagem) (reenviado|encaminhada)\s*:?|weitergeleitete nachricht\s*:?|"
    r"(message transféré|doorgestuurd bericht|vidarebefordrat meddelande)\s*:?|_{8,}|-{8,}|={8,}|"
    r"-{6,} ?[^\W\d_][^-]{2,40}? ?-{6,})\s*$",  # "-------- Oryginalna wiadomość --------": a client's rule
    re.I,
)
# Help desks put a marker above the history of a ticket ("##- Please type your reply above this line -##").
_REPLY_ABOVE_RE = re.compile(r"(reply|write|respond)\b.{0,20}\babove this line", re.I)
# The keys of a quoted header block, in the languages mail clients write them (any order: GMX puts "Gesendet:"
# before "Von:"). Only a mail client's block says when it was sent and what its subject is.
_SENT_LABELS = (
    "sent", "date", "gesendet", "datum", "envoyé", "enviado( el)?", "fecha", "verzonden", "inviato", "data",
    "skickat", "wysłano",
)  # fmt: skip
_SUBJECT_LABELS = ("subject", "betreff", "objet", "asunto", "onderwerp", "oggetto", "ämne", "temat")
_ADDRESS_LABELS = (
    "from", "to", "cc", "bcc", "reply-to", "von", "an", "de", "à", "para", "van", "aan", "da", "a", "från",
    "till", "od", "do",
)  # fmt: skip


def _label_regex(labels: tuple[str, ...]) -> re.Pattern[str]:
    """A line that starts with one of ``labels`` (bold or not) and a colon."""
    return re.compile(rf"^\*?({'|'.join(labels)})\*?\s*:", re.I)


_HEADER_RE = _label_regex(_ADDRESS_LABELS + _SENT_LABELS + _SUBJECT_LABELS)
_SENT_LABEL_RE = _label_regex(_SENT_LABELS)
_SUBJECT_LABEL_RE = _label_regex(_SUBJECT_LABELS)
# A header block in any language: a "From" line and "Label: value" lines under it ("Från: / Skickat: / Till:",
# "Van: / Verzonden: / Aan:", "De: / Enviado el: / Para:"); a label is one or two words.
_LABEL_LINE_RE = re.compile(r"^\*?[^\W\d_][\w'-]*( [\w'-]+)?\*?\s*:(\s|$)")
_FROM_LABEL_RE = _label_regex(
    ("from", "von", "de", "van", "da", "från", "fra", "frá", "od", "lähettäjä", "от", "发件人", "差出人")
)
# Lines a mail client writes, never the customer: an inline image's or an attachment's placeholder ("[image:
# logo.png]<https://...>", "<cid:image001.png@01DA...>", "<<winmail.dat>>", "(See attached file: a.pdf)",
# "📎 1 attachment"), a MIME or HTML-only stub, a mailbox rule's mark.
_CLIENT_BOILERPLATE_RE = re.compile(
    r"^\[(image|cid|logo|attachment)[^\]]{0,200}\](<[^<>]{0,300}>)?$|^<cid:[^<>]{0,200}>$|^<<[^<>]{1,200}>>$|"
    r"^\(see attached( file)?:[^)]{0,200}\)$|^(\U0001f4ce ?)?\d{1,2} attachments?\b|^attachments?: |"
    r"multi-?part message in mime format|does not support html|"
    r"^[^!?]{0,60}\b(replied|responded|wrote) (via|through|from|using|in) [^.!?]{0,60}:$|"
    r"^(this )?message (was )?(sent|submitted|received) (via|through|from|using) [^.!?]{0,80}$|"
    r"^\(?(this (message|e-?mail) (was|has been) )?(auto(matically)?[- ])?translated (by|with|from|using)\b"
    r"[^.!?]{0,80}[.)]?$|"
    r"view (this|the|it) ((message|e-?mail) )?(in (a|your) (web )?browser|as a web ?page|online)|"
    r"html[- ]only|html[- ]capable|sent (in|as) html|in html format|"
    r"^\[[^\]]{0,60}\bauto-?forwarded\b[^\]]{0,60}\]$",
    re.I,
)
_BOILERPLATE_FIRST_CHARS = frozenset("[<(\U0001f4ce")
_MIN_BASE64_LINE_CHARS = 40
_BASE64_LINE_RE = re.compile(rf"[A-Za-z0-9+/]{{{_MIN_BASE64_LINE_CHARS},}}={{0,2}}$")
_BASE64_TAIL_RE = re.compile(r"(?=[^ ]{0,100}[0-9+/=])[A-Za-z0-9+/]+={0,2}$")  # not a word ("Jane")
# A MIME part leaked into the text: its boundary ("--0000000000004b2c1d05f8a7") over its "Content-Type:"
# header; the part runs to the closing boundary ("--0000000000004b2c1d05f8a7--").
_MIME_BOUNDARY_RE = re.compile(r"--[0-9A-Za-z'()+_,./:=?-]{8,70}$")
_MAX_MIME_PART_LINES = 400
# The separator of a forwarded message (a kind of ``_SEPARATOR_RE`` line).
_FORWARD_MARKER_RE = re.compile(
    r"forward|weitergeleitet|transféré|reenviado|encaminhada|inoltrato|doorgestuurd|vidarebefordrat", re.I
)

# --- signatures, sign-offs, disclaimers ------------------------------------------------------------
_SIGNATURE_DELIMITER_RE = re.compile(r"^(--|—|-- )\s*$")
_SENT_FROM_RE = re.compile(
    r"^(sent from (my )?\S.{0,60}|get outlook for \S.{0,30}|sent (via|using|through) (the )?\S+( \S+){0,3}|"
    r"envoyé de mon \S.{0,30}|von meinem \S.{0,40} gesendet|verstuurd (vanaf|van) mijn \S.{0,30}|"
    r"enviado (desde|do|de) (mi|meu|o meu) \S.{0,30}|inviato da \S.{0,30}|skickat från min \S.{0,30}|"
    r"sendt fra min \S.{0,30}|wysłane z \S.{0,30}|lähetetty \S.{0,30}|sent with \S.{0,40}|"
    r"gesendet (mit|von) \S.{0,40}|enviado con \S.{0,40}|outlook für \S.{0,30} beziehen\S{0,60}|"
    r"(obtener|obtenha|baixe o|scarica|télécharger|download) outlook (para|per|pour|voor) \S.{0,60})$",
    re.I,
)
# Sign-offs in the languages customers write in; a line is a sign-off when it is one of these and at most a
# name (``_is_sign_off``). A signature without any of them is caught bottom-up (``_drop_trailing_signature``).
_SIGN_OFF_PHRASES = _phrases(
    """thanks | thank you | thanks so much | thank you so much | thanks a lot | thanks a million |
    thanks very much | thank you very much | many thanks | thanks again | thanks in advance |
    thank you in advance | many thanks in advance | thanks for your help | thank you for your help |
    thanks for your time | thank you for your time | thanks and regards | thanks & regards | thx | ty |
    tia | much appreciated | with appreciation | with gratitude | regards | best regards |
    kind regards | kindest regards | warm regards | warmest regards | warmly | best wishes |
    warm wishes | with thanks | with regards | with best regards | with kind regards | thank you kindly |
    respectfully | respectfully yours | sincerely |
    yours sincerely | sincerely yours | yours truly | yours faithfully | faithfully | best |
    all the best | cheers | cheers mate | ta | take care | br | rgds | kr |
    looking forward to hearing from you | looking forward to hearing from you soon |
    look forward to hearing from you | hope to hear from you soon | talk soon | speak soon | peace |
    appreciate it | appreciate your help | thanking you | thanking you in advance |
    thanking you in anticipation | i will be thankful to you | i shall be thankful to you |
    i will be grateful | i shall be grateful | i will be highly obliged | i shall be highly obliged |
    i will be obliged | i shall be obliged | waiting for your kind response | waiting for your kind reply |
    awaiting your kind response | awaiting your kind reply | awaiting your reply | your faithfully |
    i remain | i remain yours faithfully | i remain, yours faithfully | i remain, yours sincerely |
    kind rgds |
    love | xoxo | stay safe | mit freundlichen grüßen | freundliche grüße | viele grüße | liebe grüße |
    beste grüße | grüße | gruß | grüsse | gruss | herzliche grüße | schöne grüße |
    lg | mfg | cordialement | bien cordialement | bien à vous | saludos |
    saludos cordiales | un saludo | atentamente | atenciosamente | cumprimentos | cordiali saluti |
    distinti saluti | saluti | met vriendelijke groet | met vriendelijke groeten | vriendelijke groet |
    groetjes | groeten | med vänlig hälsning | vänliga hälsningar | mvh | mvg | m.v.g. |
    med venlig hilsen | hilsen | pozdrawiam | s pozdravem | ystävällisin terveisin | terveisin"""
)
_SIGN_OFF_TAIL = (
    r"(\s+(and|&)\s+(regards|best|kind regards|best wishes|thanks))?"
    r"(\s+from\s+[\w'.-]+(\s[\w'.-]+)?)?"  # "Regards from Lisbon"
    r"[\W_]*(x{1,3}o?x?\b[\W_]*)?"  # punctuation, emoji, a kiss
    r"(?-i:[A-Z][\w'.-]{0,20}(\s[A-Z][\w'.-]{0,20}){0,2})?\s*$"  # "Best regards, Jane Doe" on one line
)


_SIGN_OFF_FIRST_WORDS = frozenset(phrase.split()[0] for phrase in _SIGN_OFF_PHRASES)


@cache
def _sign_off_regex(first_word: str) -> re.Pattern[str]:
    """The sign-offs that start with ``first_word``, as one small regex: a line is matched against the few
    phrases it can be, not all of them (compiled on first use: all ~60 would add ~70 ms to a cold start)."""
    phrases = [phrase for phrase in _SIGN_OFF_PHRASES if phrase.split()[0] == first_word]
    alternatives = "|".join(sorted(map(re.escape, phrases), key=len, reverse=True))  # longest first
    return re.compile(f"^({alternatives}){_SIGN_OFF_TAIL}", re.I)


def _is_sign_off(line: str, first_word: str) -> bool:
    """``first_word``: the line's first word, lower-cased, without punctuation around it."""
    return first_word in _SIGN_OFF_FIRST_WORDS and _sign_off_regex(first_word).match(line) is not None


# Disclaimers and banners. A strong cue is phrasing a customer does not write about their own problem (it
# talks about the message itself, viruses, registered offices, external senders); weak cues ("intended
# recipient", "unauthorised use") are also how customers describe fraud, so one alone is not enough.
_DISCLAIMER_RE = re.compile(
    r"intended (solely |only |exclusively )?for the (exclusive )?(use of the )?"
    r"(individual|addressee|named|person|recipient|entity)|"
    r"(this|the) (e-?mail|message|communication|transmission) (and any (files|attachments|documents) )?"
    r"(transmitted with it )?(is|are|may be|may contain|contains)( strictly)? "
    r"(confidential|privileged|proprietary)|"
    r"(this|the) (e-?mail|message) and any (files|attachments)|"
    r"if you (have )?received this (e-?mail|message|communication|transmission) in error|"
    r"if you are not the (intended )?(addressee|recipient)|"
    r"(persons|anyone|entities) other than the (intended )?(addressee|recipient)|"
    r"confidentiality notice|legal disclaimer|^disclaimer\s*:|^important notice\s*:|"
    r"consider the environment before printing|think before you print|"
    r"(e-?mail|message)s? (is|are) not guaranteed to be (secure|error)|"
    r"computer viruses|scanned for (viruses|malware)|accepts no liability|"
    r"registered in (england|scotland|ireland)|"
    # a bank's own security notice, quoted under a reply: "We will never ask for your PIN", "If your card is
    # lost or stolen, call us ..."
    r"\bwe('ll| will) never (ask|call|e-?mail|text|contact)|"
    r"^if (your|a) card (is|has been|was) lost or stolen,? (or [^,]{0,60},? )?(please )?"
    r"(call|contact|report|freeze)|"
    r"^(card )?(lost|stolen)( or (lost|stolen))?( your)?( card)?\? (report|freeze|block|cancel) it\b"
    r"[^.!?]{0,40}\b(24/7|in (the|our) app|online|call us)|"  # the bank's channel: a customer names none
    r"(originated|came) from outside (of )?(the|your|our) organi[sz]ation|"
    r"(originated|came|comes|is) from an external (source|sender|address)|"
    r"external (email|sender|message)\W{0,3} (use|exercise|be) caution|"
    r"external sender|phish alert|^\W{0,3}(\[external\]|external (email|e-mail|sender|message)\b)|"
    r"(with|clicking|click) links (and|or) (open(ing)? )?attachments|virus-free|"
    r"^(caution|warning|attention)\W{0,3}(this )?(e-?mail|message)? ?(is from|from|originated)|"
    r"don't often get email from|learn why this is important|"
    r"aviso legal|avis de confidentialit|haftungsausschluss|(sont|est) confidentiel",
    re.I,
)
_WEAK_DISCLAIMER_RE = re.compile(
    r"intended recipient|unauthori[sz]ed (use|disclosure|review|dissemination|copying|distribution)|"
    r"privileged|confidential|prohibited|strictly|registered office|company (no|number|registration)\b|"
    r"do not click (on )?links|be vigilant|pièces jointes|destinataire|destinatario|vertraulich|"
    r"questo messaggio|dit bericht|denna e-?post",
    re.I,
)
# A disclaimer or banner line has one of these words (a set lookup over the line's words is ~10x cheaper
# than one search for all the cues; most lines have none of them).
_DISCLAIMER_HINT_WORDS = _with_punctuation(
    """intended confidential confidentiality confidentialité confidentiel confidentiels confidencial
    disclaimer disclaimer: privileged unauthorised unauthorized recipient recipients addressee
    addressees virus viruses malware liability registered company outside caution caution: error
    transmitted attachments often click clicking links guaranteed environment print printing proprietary
    prohibited strictly notice notice: aviso destinataire destinataires destinatario destinatarios
    vertraulich vertrauliche haftungsausschluss messaggio bericht e-post pièces learn [external
    [external] external sender vigilant phish virus-free never lost"""
)

# Gates: a line can start history, a signature or a quote only if it starts with one of these.
_MARKER_FIRST_CHARS = frozenset("-_=>—*#[|")
_MARKER_FIRST_WORDS = _words(
    """on le am el op il den em w dnia from von de van da från fra frá od begin forwarded sent get envoyé
    verstuurd enviado inviato skickat sendt wysłane lähetetty inizio mensaje mensagem weitergeleitete message
    doorgestuurd vidarebefordrat gesendet outlook obtener obtenha baixe scarica télécharger download"""
)

# --- greetings and pleasantries ------------------------------------------------------------------
_GREETING_LINE_RE = re.compile(
    r"^(hi|hello|hey|hiya|heya|howdy|yo|dear|respected|greetings|good (morning|afternoon|evening|day)|"
    r"morning|afternoon|evening|to whom it may concern|to the [\w ]{1,30}team|"
    r"bonjour|hallo|hola|ciao|hej|salut)"
    r"(\s+[\w'.&/-]+){0,4}\s*[,.!:;]?\s*$",
    re.I,
)
_SHORT_GREETING_RE = re.compile(r"^\W*\w+(\s+[\w'.&/-]+){0,2}\s*[,.!:;]?\s*$")  # "Hi,", "Dear Sir/Madam,"
_GREETING_PREFIX_RE = re.compile(
    r"^(hi|hello|hey|hiya|dear|respected|greetings|good (morning|afternoon|evening))"
    r"( there| all| team| support| folks| guys| everyone| sir or madam| sir| madam"
    r"| [A-Z][a-z]{1,20}(\s[A-Z][a-z]{1,20})?)?\s*[,!:;.-]\s*",
    re.I,
)
# The free words a pleasantry may run on with ("Hope you are well and had a good weekend.") stop at a turn to
# the customer's business: "Hope you are well, but my card was stolen." is not a pleasantry.
_PLEASANTRY_TAIL_CHAR = r"(?!\b(but|however|although|though)\b)[^.!?]"
_PLEASANTRY_SOURCE = (
    r"^(sorry|apologies) (to bother you|for (bothering you|the trouble|the inconvenience))( again)?[.!,]?\s*|"
    r"^(i )?hope (this|that|my) ((e-?mail|message|note) )?(finds|reaches) you well[.!]?\s*|"
    r"^(i )?hope (you are|you're|all is|you've been|you have been) (well|doing well|good|great)"
    r"[^.!?]{0,30}[.!]\s*|"
    r"^(i )?hope you('re| are) (having|doing) (a )?(good|great|well)[^.!?]{0,30}[.!]\s*|"
    # well-wishing, not asking: "Hope you had a good weekend.", "Trust you are well.", "Happy new year!"
    r"^(i )?(hope|trust) (you|you're|you are|all|all is|everyone|everyone is|your (day|week|weekend))"
    r"( are| is| have| had| were| been| keeping| doing)* "
    r"(well|good|great|fine|safe|ok|okay|a (good|great|nice|lovely)|enjoying|having)\b[^.!?]{0,30}[.!]\s*|"
    r"^happy (new year|holidays|friday|monday|easter|christmas|thanksgiving)[^.!?]{0,20}[.!]\s*|"
    # writing to the right place: "I hope this is the right place to ask.", "Apologies if this is the wrong
    # address.", "Sorry for my English, I use a translation app."
    r"^(i )?hope (this is|i've got|i have got|i've found|i have found) the (right|correct) "
    r"(place|address|department|team|person|email)[^.!?]{0,30}[.!]\s*|"
    r"^(apologies|sorry) if (this is|i've sent this to|i have sent this to|i'm writing to|i am writing to) "
    r"the wrong (place|address|department|team|person|email)[^.!?]{0,30}[.!]\s*|"
    r"^(sorry|apologies|excuse me|forgive me) for my (bad |poor |broken )?english\b[^.!?]{0,40}[.!]\s*|"
    # a forward's note: "See below, forwarding as requested.", "Forwarding this from my other address."
    r"^(please )?see (below|the (e-?mail|message) below)[^.!?]{0,40}([.!:]\s*|$)|"
    r"^forwarding (this|as requested|the (e-?mail|message) below|from my)[^.!?]{0,60}([.!:]\s*|$)|"
    # an inline reply's key: "Answers inline below.", "My answers are in capitals below."
    r"^(please )?(see )?(my )?(answers|replies|responses|comments)( are)?( marked)?( inline| below| in line"
    r"| in (capitals|caps|red|blue|bold))+[^.!?]{0,30}([.!:]\s*|$)"
)
_PLEASANTRY_RE = re.compile(_PLEASANTRY_SOURCE.replace("[^.!?]{", f"(?:{_PLEASANTRY_TAIL_CHAR}){{"), re.I)
# What the two regexes above can start with: a line that starts otherwise is not an opening (a cheap gate).
_OPENING_STARTS = (
    "hi",
    "hello",
    "hey",
    "howdy",
    "yo",
    "dear",
    "respected",
    "greetings",
    "good ",
    "morning",
    "afternoon",
    "evening",
    "to ",
    "bonjour",
    "hallo",
    "hola",
    "ciao",
    "hej",
    "salut",
    "sorry",
    "apologies",
    "i hope",
    "i trust",
    "hope",
    "trust",
    "happy",
    "excuse",
    "forgive",
    "please see",
    "see ",
    "forwarding",
    "my answers",
    "my replies",
    "my responses",
    "my comments",
    "answers",
    "replies",
    "responses",
    "comments",
)
# Thanks for the bank's last reply, opening the customer's: "Thanks for getting back to me.", "Thanks Ryan,",
# "Thank you, that's really helpful.", "Appreciate the quick response." (what it thanks for is a closed
# list: "Thanks for blocking my card, but ..." is about the problem and stays)
_THANKS = r"(many thanks|thanks|thank you|cheers|appreciated?)( (so|very) much| again| a lot)?"
_THANKED_FOR = (
    r"( for (coming|getting) back to me( so (quickly|fast|soon))?( (before|earlier|last time))?"
    r"( on (this|that|the below|my (last |previous )?(e-?mail|message|question)))?"
    r"| for (the|your|all your) ((quick|prompt|speedy|fast|kind|detailed|swift) )?"
    r"(reply|response|update|answer|e-?mail|message|help|explanation|info|information)"
    r"( (last time|the last time i wrote|before|earlier|so far))?"
    r"| for sorting (that|this|it)( out)?( so quickly)?"
    r"| (the|your) ((quick|prompt|speedy) )?(reply|response|update|help))"
)
_THANKS_COMMENT = (
    r"( ?[,-] ?(that('s|\u2019s| is| was) (really |very |so )?(helpful|clear|great|perfect)|that worked|"
    r"that('s|\u2019s| is) all (clear|sorted)( now)?|you've helped|all sorted( on that front)?|"
    r"it was (really |very )?helpful))"
)
# a name is one capitalised word ("Thanks Ryan,", "Thank you Ryan for your reply."); a bare "Thanks," opens a
# line only when it is the whole line ("Thanks, my other card was stolen too" and "Thanks, fraud!" stay)
_OPENING_THANKS_RE = re.compile(
    rf"^{_THANKS}((,? (?-i:[A-Z][a-z]{{1,19}})(?=\s*[,.!]|,? for ),?{_THANKED_FOR}?|{_THANKED_FOR})"
    rf"{_THANKS_COMMENT}?|{_THANKS_COMMENT})(\s*[.!,]+\s*|\s*$)"
    rf"|^{_THANKS}[\s.!,]*$",
    re.I,
)
_LOOKS_LIKE_HTML_RE = re.compile(r"<(html|body|div|p|br|table|span|head)\b[^<>]{0,200}>", re.I)
# Relayed forms (web contact forms, voicemail and SMS gateways): fields as "Label: value", "LABEL:<tab>value",
# or a label on a line of its own ("Message:", "*How can we help?*", "Details") with the value under it.
_FORM_MESSAGE_WORDS = (
    r"(message|comments?|enquiry|inquiry|question|query|details|description|help|request|transcription|"
    r"transcript|issue|problem|concern|feedback|complaint)"
)
_FORM_MESSAGE_LABEL_RE = re.compile(r"\b" + _FORM_MESSAGE_WORDS + r"\b", re.I)
# A form laid out as an HTML table (a label cell, then its value cell): a cell that holds only a message label
# marks one; then each short label cell is joined to the cell after it ("Name: Jane Doe"), for the form rules.
_INLINE_TAGS = r"(?:<(?:b|strong|span|font|label|em)\b[^<>]{0,200}>){0,3}"
_INLINE_CLOSE_TAGS = r"(?:</(?:b|strong|span|font|label|em)>){0,3}"
_MESSAGE_CELL_RE = re.compile(
    r"<t[dh]\b[^<>]{0,300}>"
    + _INLINE_TAGS
    + r"\s*([\w']+ ){0,4}"
    + _FORM_MESSAGE_WORDS
    + r"\??\s*:?\s*"
    + _INLINE_CLOSE_TAGS
    + r"\s*</t[dh]>",
    re.I,
)
_LABEL_CELL_RE = re.compile(
    r"(<t[dh]\b[^<>]{0,300}>"
    + _INLINE_TAGS
    + r"[^<>:]{1,60}?)\s*:?\s*("
    + _INLINE_CLOSE_TAGS
    + r")\s*</t[dh]>\s*"
    r"<t[dh]\b[^<>]{0,300}>",
    re.I,
)
_FORM_LABEL = r"[^\W\d_][\w'\u2019()/&.,?#-]*( [\w'\u2019()/&.,?#-]+){0,6}"
_FORM_COLON_FIELD_RE = re.compile(r"^\*{0,2}(" + _FORM_LABEL + r")\*{0,2}[ \t]*:([ \t]+(.*))?$")
_FORM_STARRED_LABEL_RE = re.compile(r"^\*{1,2}(" + _FORM_LABEL + r")\*{1,2}:?$")
_FORM_BARE_LABEL_RE = re.compile(r"^(" + _FORM_LABEL + r")$")
_FORM_MIN_FIELDS = 3
_FORM_DETAIL_MAX_WORDS = 8  # "Account number (last 4 digits): 6735"; a disclaimer's "NOTICE: ..." is longer
_FORM_MAX_GAP = 4  # lines between the message field and a detail field next to it
_FORM_MAX_LINES_ABOVE = 3  # "[Contact Us] Form submission", "Submitted at 24/11/2024 12:59"
_FORM_MESSAGE_MIN_WORDS = 4  # a value's first paragraph shorter than this ("Hi,") reads on to the next
_MAX_FORM_LINES = 60
_MAX_HISTORY_SCAN_LINES = 400  # where a bottom-posted reply's history is looked for
_MAX_FORWARD_HEADER_LINES = 12
_MAX_SUBJECT_PREFIXES = 8
_SUBJECT_TAG_RE = re.compile(r"^\s*\[[^\]]{0,40}\]\s*")  # "[EXT]", "[Ticket #123]"
_SUBJECT_REPLY_RE = re.compile(
    r"^\s*(re|fw|fwd|aw|wg|tr|sv|vs|vb|rv|antw|doorst|res|enc|r|rif|réf|i|odp|pd|ynt|ilt)\s*(\[\d+\])?\s*:\s*",
    re.I,
)
# The prefixes of ``_SUBJECT_REPLY_RE`` that mark a forward, in the languages of the mail clients
_FORWARD_SUBJECT_PREFIXES = frozenset(
    {"fw", "fwd", "wg", "tr", "rv", "enc", "i", "doorst", "vb", "pd", "ilt"}
)
# Case and ticket references say nothing about the case: "Re: Your case 00123456 [ref:_00D1x2Y3z]".
_SUBJECT_REFERENCE_RE = re.compile(
    r"\[?\bref:\s*[^\]\s]*\]?|\b(case|ticket|ref|reference|request)\s*(no\.?|number)?\s*[#:]?\s*\d[\d-]*|#\s*\d+",
    re.I,
)
# A subject made only of these words says nothing about the case ("Question", "Account help please",
# "Request for assistance", "We've updated your request", "Urgent issue"); one other word makes it informative
# ("Card stolen", "Account blocked").
_GENERIC_SUBJECT_WORDS = _words(
    """no subject question questions query queries help needed need needs please support request requests
    enquiry enquiries inquiry inquiries hello hi hey dear issue issues problem problems urgent urgently
    important account accounts my follow followup following up contact us customer customers service
    services message messages feedback your our the a an about with for regarding re on in of to and
    from case ticket we we've have has been reference ref assistance assist banking bank card cards
    quick one team info information matter concern concerns reply response recent me i is asap attention
    action required voicemail sms form website web submission submitted via online
    debit credit current savings saving checking joint business personal visa mastercard building society
    union"""
)
# A bank's name ("Thistle Bank", "Albion Building Society"): a subject that only names the bank and a product
# ("My Thistle Bank account") is as generic as "My bank account".
_BANK_NAME_RE = re.compile(
    r"\b[A-Z][\w&'-]* (?=(Bank|Building Society|Credit Union|Savings|Finance)\b)"  # the word before only
)
_SUBJECT_WORD_RE = re.compile(r"[a-z']+")
_SUBJECT_REFERENCE_HINT_RE = re.compile(r"[\d\[#]")
_QP_ESCAPE_RE = re.compile(r"=[0-9A-F]{2}")


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
    containers: a reply's newest message comes before them, or after the last ``</blockquote>`` when nothing
    does; a reply header with nothing above it and no ``</blockquote>`` keeps the whole text, for the text
    rules), block tags to line breaks, other tags out."""
    markup = _drop_invisible_blocks(_drop_comments(markup[:MAX_HTML_CHARS]))
    quote = _HTML_QUOTE_START_RE.search(markup)
    if quote is not None:
        above = _markup_text(markup[: quote.start()])
        below = markup.rfind("</blockquote>")
        if _WORD_CHAR_RE.search(above) is None:  # bottom-posted: the reply is under the quote
            if below > quote.start() and _WORD_CHAR_RE.search(under := _markup_text(markup[below:])):
                return under
            # under a reply header (Outlook's), or a forward with no words of its own inside the quote
            # container (Gmail's): the whole text, and the text rules find the reply or the forwarded message
            return _markup_text(markup)
        return above
    return _markup_text(markup)


def html_with_quote_marks(markup: str) -> str:
    """The text of ``markup`` with each ``<blockquote>`` level's lines marked "> ", as a plain-text client
    quotes: the text rules then find inline answers between quotes and replies under them, which the cut at
    the first quote (``html_to_text``) loses."""
    markup = _drop_invisible_blocks(_drop_comments(markup[:MAX_HTML_CHARS]))
    parts: list[str] = []
    depth = position = 0
    for tag in itertools.chain(_BLOCKQUOTE_TAG_RE.finditer(markup), (None,)):
        end = len(markup) if tag is None else tag.start()
        text = _markup_text(markup[position:end])
        if depth:
            marker = "> " * depth
            text = "\n".join(marker + line if line.strip() else marker.rstrip() for line in text.split("\n"))
        parts.append(text)
        if tag is not None:
            depth = max(0, depth - 1) if tag.group(1) else depth + 1
            position = tag.end()
    return "\n".join(parts)


def _markup_text(markup: str) -> str:
    if "<t" in markup and _MESSAGE_CELL_RE.search(markup):
        markup = _LABEL_CELL_RE.sub(r"\1\2: ", markup)
    return html_lib.unescape(_ANY_TAG_RE.sub("", _BLOCK_TAG_RE.sub("\n", markup)))


def _undone_mojibake(match: re.Match[str]) -> str:
    """The character whose UTF-8 bytes were read as Windows-1252 (``match`` when they are not UTF-8)."""
    garbled = match.group()
    try:
        return bytes(ord(c) if c < "\u0100" else c.encode("cp1252")[0] for c in garbled).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return garbled


def _clean_blanks(text: str) -> str:
    """Mojibake undone, full-width forms to ASCII, zero-width and direction marks out, blank runs to one
    space. Most mail is ASCII with single spaces: two substring checks then stand in for the regex passes
    (same result: the patterns' other characters are not ASCII)."""
    if not text.isascii():
        if any(hint in text for hint in _MOJIBAKE_HINTS):
            text = _MOJIBAKE_RE.sub(_undone_mojibake, text)
        if _FULL_WIDTH_RE.search(text):
            text = text.translate(_FULL_WIDTH_TO_ASCII)
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
    if _OTHER_LINE_BREAK_RE.search(text):  # Word's Shift+Enter (\v), form feeds, Unicode line separators
        text = _OTHER_LINE_BREAK_RE.sub("\n", text)
    lines = _clean_blanks(text).split("\n")
    if max(map(len, lines)) > MAX_LINE_CHARS:
        lines = [line[:MAX_LINE_CHARS] for line in lines]
    return list(map(str.strip, lines))


def _is_quote_line(line: str) -> bool:
    """A quoted line: "> " and some clients' "| " (``line`` is stripped)."""
    return line.startswith((">", "| ")) or line == "|"


def _history_starts_at(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _SEPARATOR_RE.match(line) or _ON_WROTE_RE.match(line) or _REPLY_ABOVE_RE.search(line):
        return True
    if line.endswith(":") and _ON_VERB_NAME_RE.match(line) and _DATE_OR_TIME_RE.search(line):
        return True
    if (
        line.endswith(":")
        and "@" in line
        and _ADDRESS_ATTRIBUTION_RE.search(line)
        and _DATE_OR_TIME_RE.search(line)
    ):
        return True
    if line.endswith(":") and _WROTE_END_RE.search(line) and _quote_follows(lines, index + 1):
        return True  # "Albion Building Society wrote:" over "> " lines
    if _ON_START_RE.match(line):  # "On Mon, 3 Jun 2024 at 10:02, Jane <jane@x" / "x.com> wrote:" (wrapped)
        return any(_WROTE_END_RE.search(following) for following in lines[index + 1 : index + 3])
    if _HEADER_RE.match(line):  # header lines, one of them the sender's: a quoted header block
        block = [candidate for candidate in lines[index : index + 6] if candidate][:4]
        headers = [candidate for candidate in block if _HEADER_RE.match(candidate)]
        names_an_address_or_a_date = any(
            "@" in header or _DATE_OR_TIME_RE.search(header) for header in headers
        )
        if not names_an_address_or_a_date and not _has_mail_only_labels(headers):
            return False  # "From: my current account / To: my savings account" is a customer's detail
        if _FROM_LABEL_RE.match(line):
            return len(headers) >= 2 or (len(block) >= 3 and all(map(_LABEL_LINE_RE.match, block[1:3])))
        return len(headers) >= 3 and any(map(_FROM_LABEL_RE.match, headers))
    return False


def _has_mail_only_labels(headers: list[str]) -> bool:
    """A sender, a sending time and a subject: only a mail client writes all three ("From: Acme Bank / Sent:
    Monday / To: Anna / Subject: Your statement"), even when no value is an address or a date."""
    return (
        any(map(_FROM_LABEL_RE.match, headers))
        and any(map(_SENT_LABEL_RE.match, headers))
        and any(map(_SUBJECT_LABEL_RE.match, headers))
    )


def _quote_follows(lines: list[str], index: int) -> bool:
    following = next((line for line in lines[index : index + 2] if line), "")
    return bool(following) and _is_quote_line(following)


def _quoted_block_end(lines: list[str], index: int) -> int | None:
    """Where reading resumes when the history starting at ``index`` is an attribution line followed by ``>``
    lines (a bottom-posted or inline reply: the customer writes under the quote); ``None`` when it is not."""
    position = index + 1
    if position < len(lines) and lines[position] and _WROTE_END_RE.search(lines[position]):
        position += 1  # the second half of an attribution wrapped over two lines
    while position < min(len(lines), index + 8) and lines[position] and _LABEL_LINE_RE.match(lines[position]):
        position += 1  # the rest of a "From: / Sent: / To:" header
    while position < len(lines) and not lines[position]:
        position += 1
    if position >= len(lines) or not _is_quote_line(lines[position]):
        return None
    while position < len(lines) and (not lines[position] or _is_quote_line(lines[position])):
        position += 1
    return position


# What a line of the customer's own prose has and a name, title, company or address line does not.
_PROSE_WORDS = _with_punctuation(
    "i i'm im i've i'd me my we our us you your it it's is was are were am be been have has had can can't "
    "cannot could would will won't do did does don't didn't doesn't not please someone there"
)
# A word in lower case that is not a particle of a name or title ("Head of Procurement", "Ana de la Cruz").
_LOWER_CASE_WORD_RE = re.compile(
    r"(?<!\S)(?!(of|and|the|at|for|de|van|von|der|den|la|le|di|da|du|y|e|del|des|in)\s)[a-z]"
)
_CONTACT_HINT_RE = re.compile(r"[\d@\[|•·]")  # one character class: the regex engine scans for it fast
_CONTACT_RE = re.compile(
    r"(\+|\(\d|\b\d{2,5}\)?[ .-])\d[\d ().-]{4,}\d|"  # a phone: "+44 20", "(415) 555-", "020 7946 0123"
    r"\S@[\w-]+\.\w|\[(image|cid|logo)|"  # an address, an inline image
    r"^(linkedin|twitter|x|instagram|facebook|tiktok|github|skype|teams)\s*:|^@\w{2,}\s*$|"  # social handles
    r"^(t|m|p|f|e|tel|phone|mobile|mob|cell|fax|direct|office|email|e-mail)\s*[:.]\s*\S|"
    r" [|•·] ",  # "Title | Company | City"
    re.I,
)
_HAS_DIGIT_RE = re.compile(r"\d")
_NUMBERED_ITEM_RE = re.compile(r"\d{1,2}[.)]\s")
_BULLET_FIRST_CHARS = frozenset("-*•\u2013·")  # \u2013: en dash
_MAX_SIGNATURE_LINES = 12
_POSTSCRIPT_RE = re.compile(r"(p\.\s?(p\.\s?)?s\.?|p?ps\s*[:\-\u2013])", re.I)  # "P.S.", "P.P.S.", "PS:"
_MAX_SENT_FROM_WORDS = 8  # "Sent from my Galaxy, an AT&T 5G Evolution capable smartphone" is longer than most
# A personal detail listed for identification ("- Account ending: 2048", "2. Name: Jane Doe").
_DETAIL_LINE_RE = re.compile(
    r"^([-*\u2022\u00b7\u2013]|\d{1,2}[.)])?\s*(?P<label>(my |our )?("
    r"full name|name|account( number| no\.?| ending( in)?)?|sort code|post ?code|zip( code)?|address|"
    r"mobile( number)?|phone( number)?|telephone|tel|e-?mail( address)?|date of birth|dob|"
    r"customer (since|id|number|no\.?)|member(ship)? (number|no\.?)|card (ending( in)?|number)|"
    r"(case|reference|ref) (number|no\.?)))\s*:\s*(?P<value>\S[^!?]{0,60})$",
    re.I,
)
_MAX_DETAIL_VALUE_WORDS = 6
# The same without a colon when the value is only a number ("· Account 12345678", "2. Card ending 4471"); an
# amount is the case's, not the customer's ("Amount: £250" stays).
_BARE_DETAIL_LINE_RE = re.compile(
    r"^([-*\u2022\u00b7\u2013]|\d{1,2}[.)])?\s*(my |our )?(account( number| no\.?| ending( in)?)?|"
    r"card( number| ending( in)?)?|sort code|reference|ref|customer (no\.?|number|id))\s+"
    r"[£$€]?\d[\d ,.*x-]{0,24}$",
    re.I,
)
# A row pasted from a statement or the app: a date, the bank's descriptor in capitals, and an amount in pence
# or cents at the end ("07/02 CONTACTLESS COSTA COFFEE LEEDS £3.95", "03 MAR DD BRITISH GAS ENERGY £86.00").
# The date and the amount are matched apart (no backtracking). A customer's own line stays: a lower-case
# letter after the date ("12/03 I was charged twice at Tesco"), no capital at all (a script without case),
# or a sentence word among the capitals ("12/03 SOMEONE TOOK MY £500.00").
_MONTH_WORDS = (
    *("jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june", "jul"),
    *("july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec"),
    "december",
)
_MONTH = rf"({'|'.join(_MONTH_WORDS)})\.?"
# the first letters of every month word: lines starting otherwise skip the regexes
_MONTH_PREFIXES = frozenset(word[:3] for word in _MONTH_WORDS)
_STATEMENT_DATE_RE = re.compile(
    rf"(\d{{1,2}}[/.]\d{{1,2}}([/.]\d{{2,4}})?|\d{{1,2}} {_MONTH}|{_MONTH} \d{{1,2}})\s", re.I
)
_STATEMENT_AMOUNT_END_RE = re.compile(r"\d[.,]\d\d( ?(cr|dr|gbp|usd|eur))?$", re.I)
_SENTENCE_WORD_RE = re.compile(
    r"\b(I|ME|MY|WE|OUR|PLEASE|HELP|NOT|DID|DIDN'T|WAS|HAS|HAVE|TOOK|STOLEN|LOST)\b"
)
_LETTER_REFERENCE_RE = re.compile(r"^(re|ref|reference|your ref(erence)?|our ref(erence)?)\s*:", re.I)
_MAX_HEADING_LINES = 24  # a letter's sender and recipient addresses, date and references, with blank lines


def _is_prose(line: str) -> bool:
    lowered = line.lower()
    return not _PROSE_WORDS.isdisjoint(lowered.split()) or (line.endswith("?") and " " in line)


def _has_contact_data(line: str) -> bool:
    if _CONTACT_HINT_RE.search(line):
        return _CONTACT_RE.search(line) is not None
    return "www." in line or "http" in line


def _is_contact_line(line: str) -> bool:
    return line[0] not in _BULLET_FIRST_CHARS and not _is_prose(line) and _has_contact_data(line)


# Signature lines that have lower-case words or a label: pronouns, a customer number, a name with a kiss.
_SIGNATURE_EXTRA_RE = re.compile(
    r"^(pronouns\s*:\s*)?\(?(she|he|they|ze|xe)/(her|him|them|hir|xem)(/\w+)?\)?$|"
    r"^(customer|member|client|account holder) (since|no\.?|number|id)\s*:?\s*[\w-]{2,20}$|"
    r"^(?-i:[A-Z][\w'.-]{0,20}( [A-Z][\w'.-]{0,20}){0,2}) x{1,3}$",
    re.I,
)
# A name signed under a dash as the message's last line ("- Daniel", "~Emeka"): a list item is not one.
_DASH_NAME_RE = re.compile(r"^[-~\u2013\u2014]{1,2} ?[A-Z][\w'.-]{1,20}( [A-Z][\w'.-]{1,20})?$")


def _is_signature_line(line: str) -> bool:
    """A name, title, company, address or contact line: no prose words, and either contact data, one
    capitalised word, or every word capitalised ("Jane Doe", "Head of Procurement", "Northwind Traders
    Ltd")."""
    if line[0] in _BULLET_FIRST_CHARS or _NUMBERED_ITEM_RE.match(line) or _is_prose(line):
        return False
    if _has_contact_data(line) or _SIGNATURE_EXTRA_RE.match(line):
        return True
    if _LABEL_LINE_RE.match(line) or (line.isupper() and line.count(" ") >= 2):
        return False  # "Amount: £250" is a detail, "CARD STOLEN BLOCK IT" an ask
    words = line.split()
    if len(words) == 1 and len(line) <= 20:  # "Jane"; "cancel", "Stop?" or "Help!" may be the ask
        return not line[0].islower() and line[-1] not in "?!"
    return len(words) <= 8 and _LOWER_CASE_WORD_RE.search(line) is None


def _filled_end(lines: list[str], end: int) -> int:
    """``end`` moved up over the blank lines just above it."""
    while end and not lines[end - 1]:
        end -= 1
    return end


def _drop_trailing_signature(lines: list[str], first_content: int) -> list[str]:
    """The signature, whatever the language and without a known sign-off: a block of name, title, company
    and contact lines, set apart from the message by a blank line or by a short sign-off above it ("Met
    vriendelijke groet,", "Warmly,"), which goes too. The block is looked for above the first contact line
    (a phone, an e-mail address, a link: what follows it is the signature's too, "Our office hours are ...")
    and then at the end. ``first_content``: the index of the customer's first line, which always stays."""
    end = _filled_end(lines, len(lines))
    if end - 1 > first_content and _DASH_NAME_RE.match(lines[end - 1]):
        above_end = _filled_end(lines, end - 1)
        above = lines[above_end - 1] if above_end else ""
        if above and above[0] not in _BULLET_FIRST_CHARS and not above.endswith(":"):  # not a list's item
            end = above_end
    first_content = min(first_content, end)
    tail = "\n".join(lines[first_content + 1 : end])
    if _CONTACT_HINT_RE.search(tail) or "www." in tail or "http" in tail:  # most messages: no contact data
        contact = next(
            (i for i in range(first_content + 1, end) if lines[i] and _is_contact_line(lines[i])), None
        )
        if (
            contact is not None
            and (cut := _signature_block_start(lines, first_content, contact + 1)) is not None
        ):
            return lines[:cut]
    cut = _signature_block_start(lines, first_content, end)
    return lines[:end] if cut is None else lines[:cut]


def _signature_block_start(lines: list[str], first_content: int, bottom: int) -> int | None:
    """Where the signature block ending at ``bottom`` (exclusive) starts, sign-off included; ``None`` when
    the lines above ``bottom`` are not one (not set apart from a message line, or no signature lines)."""
    # walk up over signature lines and blank ones (HTML signatures are one <div> or <p> per line); only the
    # filled lines count toward the limit: a signature with a blank line under each line is one too
    above = bottom - 1
    signature_lines = 0
    while above > first_content:
        if lines[above]:
            if signature_lines == _MAX_SIGNATURE_LINES or not _is_signature_line(lines[above]):
                break
            signature_lines += 1
        above -= 1
    start = above + 1
    while start < bottom and not lines[start]:
        start += 1
    if start == bottom or not lines[above] or _is_signature_line(lines[above]):
        return None  # nothing, or the block reaches the top: the customer's own name and details
    sign_off = lines[above]
    if (
        _is_sign_off(sign_off, _first_word(sign_off))
        or (sign_off.endswith(",") and len(sign_off.split()) <= 5 and not _is_prose(sign_off))
        # a courtesy over the name: "Would be grateful for a reply."
        or (len(sign_off) <= _MAX_COURTESY_CHARS and _is_courtesy(sign_off))
    ):
        return above if above > first_content else None
    return start if start > above + 1 else None  # set apart from the message by a blank line


_WORD_EDGE_PUNCTUATION = ",.!:;*()"


def _first_word(line: str) -> str:
    return line.lower().split(None, 1)[0].strip(_WORD_EDGE_PUNCTUATION)


def _is_opening_line(line: str) -> bool:
    """A greeting or pleasantry, the whole line: what can come before the customer's first words ("Sorry to
    bother you, my card was stolen." is a first line: its pleasantry goes later, ``_strip_greetings``)."""
    head = line[:16].lower()
    if not head.startswith(_OPENING_STARTS):
        return False
    if _GREETING_LINE_RE.match(line):
        return True
    pleasantry = _PLEASANTRY_RE.match(line)
    return pleasantry is not None and pleasantry.end() == len(line)


def _newest_message_lines(lines: list[str]) -> tuple[list[str], int]:
    """The lines of the newest message, and the index among them of its first line that is more than a
    greeting or a pleasantry (``len`` of them when there is none)."""
    kept: list[str] = []
    first_content = -1
    heading = False  # the lines so far may be a letter's heading (no prose)
    last_quote: int | None = None  # the last ">" line, found at the first quote: answers between quotes?
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            kept.append(line)
            continue
        lowered = line.lower()
        words = lowered.split()
        first_word = words[0].strip(_WORD_EDGE_PUNCTUATION)
        # Cheap gates first: most lines are plain prose and need no regex at all.
        if (
            line[0] in _MARKER_FIRST_CHARS
            or first_word in _MARKER_FIRST_WORDS
            or line.endswith(":")
            or line.find(":", 1, 16) > 0  # "Gesendet: ...", "Betreff: ..."
        ):
            if _history_starts_at(lines, index - 1):
                resume = _quoted_block_end(lines, index - 1)
                if last_quote is None:
                    last_quote = max(
                        (i for i, other in enumerate(lines) if _is_quote_line(other)), default=-1
                    )
                if resume is None or (first_content >= 0 and last_quote < resume):
                    break  # history to the end (a footer a gateway adds under a quote is not the customer's)
                index = resume  # the customer wrote under the quote or answers between quotes: read on
                continue
            if _SIGNATURE_DELIMITER_RE.match(line) or (
                len(words) <= _MAX_SENT_FROM_WORDS and "?" not in line and _SENT_FROM_RE.match(line)
            ):
                kept += _postscript(lines, index)
                break
            if _is_quote_line(line):
                continue
            if line.startswith("--") and (part_end := _mime_part_end(lines, index - 1)) is not None:
                index = part_end
                continue
        if (
            line[0] in _BOILERPLATE_FIRST_CHARS
            or "mime" in lowered
            or "html" in lowered
            or "view" in lowered
            or "attach" in lowered
            or "via" in lowered
            or "translat" in lowered
        ) and _CLIENT_BOILERPLATE_RE.search(line):
            continue
        if len(line) >= _MIN_BASE64_LINE_CHARS and " " not in line and _BASE64_LINE_RE.match(line):
            while index < len(lines) and _BASE64_TAIL_RE.match(lines[index]):
                index += 1
            continue  # an attachment's base64 leaked into the text part, and its short last line
        if _is_sign_off(line, first_word):
            if first_content >= 0 or _signature_follows(lines, index):
                kept += _postscript(lines, index)
                break  # a sign-off ends the message; a name and titles follow (and maybe a P.S.)
            continue  # "Thanks!" before the customer's first words opens the message: read on
        if not _DISCLAIMER_HINT_WORDS.isdisjoint(words) and _is_disclaimer(line):
            if first_content >= 0:
                break
            while index < len(lines) and lines[index]:  # a banner above the message: skip its paragraph
                index += 1
            continue
        if first_content < 0:
            if _LETTER_REFERENCE_RE.match(line):
                continue  # a letter's "Re: Current account" under its greeting
            if not _is_opening_line(line):
                first_content = len(kept)
                heading = not _is_prose(line)
        elif heading and len(kept) < _MAX_HEADING_LINES:
            if _GREETING_LINE_RE.match(line) and any(map(_HAS_DIGIT_RE.search, kept)):
                kept.clear()  # a letter: the sender's address and the date above "Dear ..."
                first_content = -1
            heading = not _is_prose(line)
        kept.append(line)
    return kept, first_content if first_content >= 0 else len(kept)


def _mime_part_end(lines: list[str], index: int) -> int | None:
    """Where a MIME part leaked into the text (a boundary line at ``index`` over a "Content-" header) ends:
    after its closing boundary, or after its headers and payload paragraph when there is none; ``None`` when
    ``index`` is not a boundary."""
    boundary = lines[index]
    if (
        index + 1 >= len(lines)
        or lines[index + 1][:8].lower() != "content-"
        or not _MIME_BOUNDARY_RE.match(boundary)
    ):
        return None
    for position in range(index + 1, min(len(lines), index + _MAX_MIME_PART_LINES)):
        if lines[position] == boundary + "--":
            return position + 1
    position = index + 1
    while position < len(lines) and lines[position]:  # the part's headers
        position += 1
    while position < len(lines) and not lines[position]:
        position += 1
    while position < len(lines) and lines[position]:  # its payload
        position += 1
    return position


def _postscript(lines: list[str], index: int) -> list[str]:
    """A P.S. under the signature that starts at ``index`` (before any history): its paragraph, after a blank
    line; ``[]`` when there is none."""
    for position in range(index, min(len(lines), index + _MAX_SIGNATURE_LINES)):
        line = lines[position]
        if not line or line[0] not in "Pp" or not (_POSTSCRIPT_RE.match(line) or line.startswith("PS ")):
            continue
        if any(lines[above] and _history_starts_at(lines, above) for above in range(index, position)):
            return []  # the P.S. of a quoted message
        end = position
        while end < len(lines) and lines[end] and not _history_starts_at(lines, end):
            end += 1
        return ["", *lines[position:end]]
    return []


def _signature_follows(lines: list[str], index: int) -> bool:
    following = next((line for line in lines[index : index + 4] if line), None)
    return following is None or _is_signature_line(following)


def _is_disclaimer(line: str) -> bool:
    if _DISCLAIMER_RE.search(line):
        return True
    return len({match.group(0).lower() for match in _WEAK_DISCLAIMER_RE.finditer(line)}) >= 2


# Each courtesy with the words it can start with: a line is matched against the few that can start as it
# does, compiled on first use (``_courtesy_regex``; all of them in one pattern took 12 ms of a cold start).
_COURTESIES: tuple[tuple[str, str], ...] = (
    ("please advise help", r"(please )?(advise|help)( me)?( asap| as soon as possible| urgently| quickly)?"),
    (
        "any all your",
        r"(any|all|your) (help|assistance|advice|support|guidance)( on this| with this| here)? "
        r"(would be |is |will be )?(much |greatly |really |very )?"
        r"(appreciated|great|welcome|helpful|wonderful)",
    ),
    (
        "i would 'd should will shall",
        r"(i )?(would|'d|should|will|shall) be (most |very |really |so )?(grateful|obliged|thankful)"
        r"( for (a|an|your) ((quick|prompt|early|written|swift) )?(reply|response|answer|help|call( back)?)"
        r"( [^.!?]{0,80})?"
        r"| if you (would|could|can) look into (this|it|the matter|this matter)( [^.!?]{0,40})?)?",
    ),
    ("i'm i hoping hope", r"(i('m| am) )?(hoping|hope) (someone|somebody|you) can help( me)?( with this)?"),
    ("can", r"can (someone|somebody|you) (please )?get back to me( asap| soon| please)?"),
    (
        "please let",
        r"(please )?let me know (what (else )?you need from me|if (anything|something) (is|was) "
        r"(unclear|missing))",
    ),
    (
        "happy",
        r"happy to (provide|send( over)?|give|share) (any|anything)( more| further| else| other)?"
        r"( details| information| info)?( you need)?( if needed)?",
    ),
    (
        "i would 'd really greatly appreciate",
        r"(i )?(would |'d )?(really |greatly )?appreciate (it|your|any|a) ?(help|assistance|time|support|"
        r"(quick |prompt )?(reply|response|call|call back|callback))?",
    ),
    (
        "i'm i we looking look waiting hoping hope",
        r"(i('m| am) |i |we )?(looking forward|look forward|waiting|hoping|hope) (to|for) "
        r"(hearing (back )?from you|hear(ing)? back|your (prompt |quick |early |kind |earliest )?"
        r"(reply|response|answer|help)|a (reply|response|quick reply|quick response))( soon)?",
    ),
    (
        "i'm i awaiting waiting",
        r"(i('m| am) )?(awaiting|waiting) your (prompt |quick |early |kind |earliest )?"
        r"(reply|response|answer)",
    ),
    (
        "please revert",
        r"(please )?revert( back)?( to me)?( at the earliest| asap| soon| as soon as possible)?",
    ),
    ("i hope", r"(i )?hope you (can|are able to|will be able to) help( me)?( with this)?"),
    (
        "many cheers thanks thank thx ta",
        r"(many |cheers |thanks heaps )?(thanks|thank you|thx|ta|cheers)( (so|very) much| heaps| again)?"
        r"( in advance)?( for ((your|the|any|all your) )?(kind |quick |prompt )?"
        r"(help|time|assistance|support|attention|understanding|reply|response|patience|reading( this)?)"
        r"( so far)?)?( (in|to) (this|the) matter)?",
    ),
    (
        "thanks thank",
        r"(thanks|thank you)( (so|very) much)?( in advance)? for taking the time to (look at|read) (this|it)",
    ),
    (
        "have enjoy",
        r"(have a|enjoy your) (good|nice|great|lovely|wonderful) (day|weekend|evening|week)( and thank you)?",
    ),
    ("speak talk", r"(speak|talk) soon"),
    # pointing at the subject or the lines above, and saying there is no more
    ("i hope", r"(i )?hope (that|this|it) makes sense"),
    ("title subject", r"(title|subject) says it all"),
    (
        "please pls plz see as",
        r"(please |pls |plz )?(see|as per|as in|as) (the |my )?(subject|title|above|below|underneath)( line)?"
        r"(,? thanks| thx)?",
    ),
    ("no that's thats", r"(no,? )?that'?s (all|everything|it)( for now)?(,? (thanks|thank you))?"),
    ("just", r"just the one question"),
    ("please do don't", r"(please )?(do not|don't) hesitate to (contact|call|reach) me( [^.!?]{0,60})?"),
    (
        "thanks thank",
        r"(thanks|thank you)( (so|very) much)?( in advance)? for looking into (this|it|the matter)",
    ),
    (
        "please let get reply contact call",
        r"(please )?(let me know|get back to me|reply( to me)?|contact me|call me)"
        r"( (asap|soon|quickly|as soon as possible|at your earliest convenience|if you need anything( else)?"
        r"( from me)?))?",
    ),
    (
        "i you feel",
        r"(i can be reached|you can reach me|feel free to (contact|call|reach) me)( [^.!?]{0,50})?",
    ),
    # the customer's own number to call back on, closing the message ("My mobile is 07700 918 442."); a
    # number that is part of the problem ("The number is 0800 123 4567", "Number: 12345678") is not one
    (
        "my the",
        r"(my (best |daytime )?(mobile|cell|phone|telephone|contact)( phone)?( number| no\.?)?|my number|"
        r"the best (phone |contact |mobile )?number to (reach|call|contact|get) me( on)?) is "
        r"(\+\d|\(?0)[\d ().-]{7,18}\d( if (easier|needed|that helps|you need (it|me|to call( me)?)))?",
    ),
)
_COURTESY_FIRST_WORDS = frozenset(word for words, _ in _COURTESIES for word in words.split())


@cache
def _courtesy_regex(first_word: str) -> re.Pattern[str]:
    alternatives = "|".join(pattern for words, pattern in _COURTESIES if first_word in words.split())
    return re.compile(rf"^({alternatives})[\s,.!:;)-]*$", re.I)


def _is_courtesy(text: str) -> bool:
    """A courtesy that closes a message ("Any help would be appreciated.", "Looking forward to your reply."):
    no intent, but words that have one ("waiting" is how customers ask where their card is)."""
    if not text or text.isspace():
        return False
    first_word = _first_word(text)
    return first_word in _COURTESY_FIRST_WORDS and _courtesy_regex(first_word).match(text) is not None


_MAX_COURTESY_CHARS = 110  # the longest courtesy sentence a customer writes ("I should be most grateful ...")


def _drop_closing_courtesy(lines: list[str]) -> list[str]:
    """Trailing courtesy lines, and a courtesy that ends the last line as its own sentence ("Why are there
    fees? Waiting for your kind response.")."""
    kept = list(lines)
    while kept:
        last = kept[-1]
        if not last or _is_courtesy(last):
            kept.pop()
            continue
        end = max(last.rfind(". "), last.rfind("? "), last.rfind("! "))
        if end <= 0 or len(last) - end > _MAX_COURTESY_CHARS or not _is_courtesy(last[end + 2 :]):
            break
        kept[-1] = last[: end + 1]
    return kept if any(kept) else list(lines)  # a message that is only courtesy keeps its words


# "Thanks for your help last time. Appreciate the quick reply. Sorry to bother you." on one line
_MAX_OPENING_PLEASANTRIES = 3


def _without_opening_pleasantries(line: str, *, before_content: bool) -> str:
    """``line`` without the pleasantry that opens it, and before the customer's first words without thanks for
    the bank's last reply too ("Thanks for your help last time. Appreciate the quick reply. Sorry to bother
    you."; "Thanks, my other card was stolen too" under them says more)."""
    pleasantry_seen = False
    for _ in range(_MAX_OPENING_PLEASANTRIES):
        match = _OPENING_THANKS_RE.match(line) if before_content else None
        if match is None and not pleasantry_seen:
            match = _PLEASANTRY_RE.match(line)
            pleasantry_seen = True
        if match is None or not match.end():
            break
        line = line[match.end() :].strip()
    return line


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
        if len(result) < 2:
            line = _without_opening_pleasantries(line, before_content=not any(result))
        if line or result:
            result.append(line)
    while result and not result[-1]:
        result.pop()
    # a message that is only a greeting is empty; "hey ai cancel it now" is more than one
    return result or [line for line in lines if line and not _SHORT_GREETING_RE.match(line)]


def _is_forward_subject(subject: str) -> bool:
    """A subject whose first reply prefix, under any tags, is a forward's ("[EXT] FW:", "WG:", "TR:")."""
    rest = subject[:500]
    for _ in range(_MAX_SUBJECT_PREFIXES):
        if (tag := _SUBJECT_TAG_RE.match(rest)) is None:
            break
        rest = rest[tag.end() :]
    prefix = _SUBJECT_REPLY_RE.match(rest)
    return prefix is not None and prefix.group(1).lower() in _FORWARD_SUBJECT_PREFIXES


def clean_subject(subject: str, *, keep_thread: bool = False) -> str:
    """The subject when it says something about the case: empty when it is generic ("Question", "Request
    for assistance") or belongs to a thread (a reply or a forward: "Re: direct debit" names what an older
    message was about, and a reply's news is in its body), unless ``keep_thread``; tags and case references
    removed."""
    if not subject:
        return ""
    cleaned = _clean_blanks(subject[:500]).strip()
    for _ in range(_MAX_SUBJECT_PREFIXES):  # "RE: [EXT] Fwd: ..."
        prefix = _SUBJECT_TAG_RE.match(cleaned) or _SUBJECT_REPLY_RE.match(cleaned)
        if prefix is None:
            break
        if not keep_thread and prefix.re is _SUBJECT_REPLY_RE:
            return ""
        cleaned = cleaned[prefix.end() :]
    if _SUBJECT_REFERENCE_HINT_RE.search(cleaned):
        cleaned = " ".join(_SUBJECT_REFERENCE_RE.sub(" ", cleaned).split()).strip(" -:|")
    words = _SUBJECT_WORD_RE.findall(_BANK_NAME_RE.sub("", cleaned).lower())
    return "" if _GENERIC_SUBJECT_WORDS.issuperset(words) else cleaned


@dataclass(frozen=True)
class _FormField:
    line: int  # the label's line
    label: str
    value: str  # on the label's line; "" when the value is on the lines under it


def _form_fields(lines: list[str]) -> list[_FormField]:
    """The fields of a relayed form among the first lines (all "Label: value" / "*Label*" fields, or all
    bare "Label" lines over their values), or ``[]`` when ``lines`` are not one (``_is_form``)."""
    colon_fields: list[_FormField] = []
    bare_fields: list[_FormField] = []
    for index, line in enumerate(lines[:_MAX_FORM_LINES]):
        if not line:
            continue
        if field := _FORM_COLON_FIELD_RE.match(line):
            colon_fields.append(_FormField(index, field.group(1), field.group(4) or ""))
        elif field := _FORM_STARRED_LABEL_RE.match(line):
            colon_fields.append(_FormField(index, field.group(1), ""))
        elif _is_bare_label(lines, index):
            bare_fields.append(_FormField(index, line, ""))
    return next((fields for fields in (colon_fields, bare_fields) if _is_form(fields, lines)), [])


def _is_form(fields: list[_FormField], lines: list[str]) -> bool:
    """A message field next to (``_FORM_MAX_GAP`` lines) short detail fields ("Phone: ...", "Topic: ..."),
    under at most a short heading; no mail header ("From:"). An e-mail's "Quick question: ..." and its
    signature's "Mobile: ..." are not a form."""
    if len(fields) < _FORM_MIN_FIELDS or sum(map(bool, lines[: fields[0].line])) > _FORM_MAX_LINES_ABOVE:
        return False
    if any(_FROM_LABEL_RE.match(field.label + ":") for field in fields):
        return False
    messages = [field.line for field in fields if _FORM_MESSAGE_LABEL_RE.search(field.label)]
    details = [
        field.line
        for field in fields
        if not _FORM_MESSAGE_LABEL_RE.search(field.label)
        and len(field.value.split()) <= _FORM_DETAIL_MAX_WORDS
    ]
    return len(details) >= _FORM_MIN_FIELDS - 1 and any(
        abs(message - detail) <= _FORM_MAX_GAP for message in messages for detail in details
    )


def _is_bare_label(lines: list[str], index: int) -> bool:
    """A label on a line of its own, set apart above, with its value on the next line ("Details")."""
    line = lines[index]
    return (
        (index == 0 or not lines[index - 1])
        and index + 1 < len(lines)
        and bool(lines[index + 1])
        and line[-1] not in ".,!;"
        and _FORM_BARE_LABEL_RE.match(line) is not None
    )


def _opening_lines(lines: list[str]) -> Iterator[int]:
    """The indices of the body's first non-blank lines: a form's or a memo's first field is among them, under
    at most a short heading (``_FORM_MAX_LINES_ABOVE``)."""
    filled = (index for index in range(min(len(lines), _MAX_FORM_LINES)) if lines[index])
    return itertools.islice(filled, _FORM_MAX_LINES_ABOVE + 1)


def _may_be_form(lines: list[str]) -> bool:
    """Cheap: one of the first lines is a field ("Name: ...", "*Name*", "Name" over its value), as
    ``_form_fields`` has it; a form's first field is under at most a short heading (``_is_form``)."""
    return any(
        ":" in lines[index] or lines[index][0] == "*" or _is_bare_label(lines, index)
        for index in _opening_lines(lines)
    )


def _form_message(lines: list[str]) -> list[str] | None:
    """A form relayed by e-mail (a web contact form, a voicemail transcription, an SMS gateway): the lines of
    its message field, the longest of the fields whose label names a message ("Message", "How can we help?",
    "Transcription"); ``None`` when ``lines`` are not a form. The value runs to the next field, a separator,
    or the end of its first paragraph of ``_FORM_MESSAGE_MIN_WORDS`` words or more."""
    fields = _form_fields(lines)
    if not fields:
        return None
    field_lines = {field.line for field in fields}
    best: list[str] | None = None
    best_words = 0
    for field in fields:
        if not _FORM_MESSAGE_LABEL_RE.search(field.label):
            continue
        value = [field.value] if field.value else []
        words = len(field.value.split())
        for index in range(field.line + 1, len(lines)):
            line = lines[index]
            if index in field_lines or _SEPARATOR_RE.match(line) or line in ("--", "---", "___", "-- "):
                break
            if not line and words >= _FORM_MESSAGE_MIN_WORDS:
                break
            value.append(line.strip('"“”'))
            words += len(line.split())
        if best is None or words > best_words:
            best, best_words = value, words
    above = [line for line in lines[: fields[0].line] if line]
    if (
        best is not None
        and any(line[-1] in ".?!" for line in above)
        and len(" ".join(above).split()) > best_words
    ):
        return None  # sentences above the fields, longer than the message: an e-mail with details under it
    return best


def _is_sign_off_line(line: str) -> bool:
    return bool(line) and _is_sign_off(line, _first_word(line))


def _is_greeting_line(line: str) -> bool:
    return bool(line) and bool(_GREETING_LINE_RE.match(line) or _GREETING_PREFIX_RE.match(line))


def _forwarded_message(lines: list[str], *, any_separator: bool = False) -> list[str] | None:
    """A forward with no words of its own (a mailbox rule's, or a customer's): the forwarded message, under
    its separator and header; ``None`` when the body does not open with a forward (a separator that says
    "forward", or any separator when ``any_separator``: the subject says so)."""
    start = next(  # the first history: a header block above the separator is the forwarded message's own
        (
            i
            for i, line in enumerate(lines[:_MAX_HISTORY_SCAN_LINES])
            if _SEPARATOR_RE.match(line) or (line and _history_starts_at(lines, i))
        ),
        None,
    )
    if (
        start is None
        or not _SEPARATOR_RE.match(lines[start])
        or not (any_separator or _FORWARD_MARKER_RE.search(lines[start]))
    ):
        return None
    position = start + 1
    while position < min(len(lines), start + _MAX_FORWARD_HEADER_LINES) and (
        not lines[position] or _LABEL_LINE_RE.match(lines[position])
    ):
        position += 1
    return lines[position:] or None


def _below_unmarked_history(lines: list[str]) -> list[str] | None:
    """A reply written under history that has no quote markers (Outlook's "-----Original Message-----" and
    header blocks, bottom-posted): the lines after the last quoted message's sign-off and name, from their
    greeting ("Hi Sarah,") if they have one (a bank's footer may come first), else when they open with prose;
    ``None`` otherwise (a forward with no comment, a footer)."""
    scanned = range(min(len(lines), _MAX_HISTORY_SCAN_LINES))
    starts = [i for i in scanned if lines[i] and _history_starts_at(lines, i)]
    sign_offs = [i for i in scanned if _is_sign_off_line(lines[i])] if starts else []
    for start in reversed(starts):  # the last one may be the customer's own signature rule ("________")
        after = bisect.bisect_right(sign_offs, start)
        if after == len(sign_offs):
            continue
        sign_off = sign_offs[after]
        below = sign_off + 1
        while below < len(lines) and lines[below]:  # the name and title under the sign-off
            below += 1
        tail = lines[below:]
        greeting = next((i for i, line in enumerate(tail) if _is_greeting_line(line)), None)
        if greeting is not None:
            # a greeting under more history (an unsigned message's header) is that message's
            more_history = bisect.bisect_right(starts, below + greeting) > bisect.bisect_right(starts, below)
            return None if more_history else tail[greeting:]
        # else the first paragraph in the customer's voice ("Thanks Grace," / prose), after the bank's footers
        voiced = next(
            (
                i
                for i, line in enumerate(tail)
                if line and (_is_sign_off_line(line) or _is_prose(line)) and not _is_disclaimer(line)
            ),
            None,
        )
        return tail[voiced:] if voiced is not None else None
    return None


def _is_rule(line: str) -> bool:
    return not line.strip("=-_*~#")


def _is_title(line: str) -> bool:
    """A memo's title or a rule under it: one capitalised word ("MEMO") or a short rule ("====", "----")."""
    return (line.isalpha() and line.isupper()) or _is_rule(line)


def _is_memo_title(kept: list[str]) -> bool:
    """Lines that are only a memo's title and its rule ("MEMO" / "===="); a one-word top-post ("FRAUD") is
    not one: it has no rule."""
    filled = [line for line in kept if line]
    return any(map(_is_rule, filled)) and all(map(_is_title, filled))


def _is_heading_line(line: str) -> bool:
    return not line or bool(_HEADER_RE.match(line) or _is_title(line) or _LETTER_REFERENCE_RE.match(line))


def _below_header_heading(lines: list[str], *, forwarded: bool = False) -> list[str] | None:
    """A body that opens with a header block ("To: / From: / Date: / Re:"), under at most a title and banners:
    a memo's heading, or the header of a forward with neither a separator nor words of its own: the lines
    under the block when it names no address (typed), they open with a greeting or the subject marks a
    forward (``forwarded``), or a relayed form's message field; ``None`` otherwise. A body that opens with a
    separator ("-----Original Message-----") is history."""
    for index in _opening_lines(lines):
        if _SEPARATOR_RE.match(lines[index]):
            return None
        if _is_disclaimer(lines[index]) or _CLIENT_BOILERPLATE_RE.search(lines[index]):
            continue  # a banner above a forward ("CAUTION: This email originated ...", "[Auto-forwarded]")
        if _HEADER_RE.match(lines[index]) and _history_starts_at(lines, index):
            position = index
            while position < len(lines) and _is_heading_line(lines[position]):
                position += 1
            below = lines[position:]
            typed = not any("@" in line for line in lines[index:position])  # a memo's, not a mail client's
            if below and (typed or forwarded or _is_greeting_line(below[0])):
                return below
            return _form_message(below)  # else history (a bank's message above a bottom-post), or a form
        if not _is_title(lines[index]):
            return None
    return None


def _is_detail_line(line: str) -> bool:
    """A personal detail (``_DETAIL_LINE_RE``): a known label, and a short value with a digit (or a name, an
    e-mail address or a postal address)."""
    detail = _DETAIL_LINE_RE.match(line)
    if detail is None or len(detail["value"].split()) > _MAX_DETAIL_VALUE_WORDS:
        return False
    label = detail["label"].lower().removeprefix("my ").removeprefix("our ")
    return _HAS_DIGIT_RE.search(detail["value"]) is not None or label.startswith(
        ("name", "full name", "e-mail", "email", "address")
    )


def _is_statement_row(line: str) -> bool:
    date = _STATEMENT_DATE_RE.match(line)
    if date is None or _STATEMENT_AMOUNT_END_RE.search(line) is None:
        return False
    rest = line[date.end() :]
    return (
        not any(c.islower() for c in rest)
        and any(c.isupper() for c in rest)
        and _SENTENCE_WORD_RE.search(rest) is None
    )


def _drop_detail_lines(lines: list[str]) -> list[str]:
    """Without personal-detail lines and the short line that introduces them ("My details:"), and without rows
    pasted from a statement: they say who the customer is or what the account shows, not what is wrong, and
    their words dilute the ask."""
    details = (
        {i for i, line in enumerate(lines) if ":" in line and _is_detail_line(line)}
        if ":" in "".join(lines)  # one C-level scan: most messages have no colon at all
        else set()
    )
    details.update(
        i for i, line in enumerate(lines) if line and line[-1].isdigit() and _BARE_DETAIL_LINE_RE.match(line)
    )
    # a statement row's introducing line stays: it may be the ask ("I don't recognise this one:")
    rows = {
        i
        for i, line in enumerate(lines)
        if (line[:1].isdigit() or line[:3].lower() in _MONTH_PREFIXES) and _is_statement_row(line)
    }
    if rows and all(i in rows for i, line in enumerate(lines) if line):
        rows = set()  # nothing but rows: they are all the message has
    if not details and not rows:
        return lines
    for index in sorted(details):
        above = index - 1
        while above >= 0 and not lines[above]:
            above -= 1
        if above >= 0 and above not in details and lines[above].endswith(":") and len(lines[above]) <= 40:
            details.add(above)
    return [line for i, line in enumerate(lines) if i not in details and i not in rows]


def _message_lines(lines: list[str]) -> list[str]:
    kept = _drop_closing_courtesy(_drop_detail_lines(_drop_trailing_signature(*_newest_message_lines(lines))))
    return _strip_greetings(kept)


def newest_message(text: str, *, forwarded: bool = False) -> str:
    """The customer's newest message from a plain-text body (see the module docstring). ``forwarded``: the
    subject marks a forward ("FW: ..."), so a body with no words of its own above a separator of any kind
    ("-----Original Message-----", "________") is the forwarded message."""
    lines = _clean_lines(text.lstrip()[:MAX_TEXT_CHARS])  # the cut counts from the first visible character
    if _may_be_form(lines):
        lines = _form_message(lines) or lines
    kept = _message_lines(lines)
    # nothing of its own above the history: a forward, a bottom-post, or a memo under its heading
    readers: tuple[Callable[[list[str]], list[str] | None], ...] = ()
    if not kept:
        readers = (
            partial(_forwarded_message, any_separator=forwarded),
            _below_unmarked_history,
            partial(_below_header_heading, forwarded=forwarded),
        )
    elif _is_memo_title(kept):
        readers = (_below_header_heading,)
    for read_below in readers:
        if (below := read_below(lines)) and (below_kept := _message_lines(below)):
            kept = below_kept
            break
    message = "\n".join(kept)
    if "\n\n\n" in message:
        message = _BLANK_LINES_RE.sub("\n\n", message)
    return message[:MAX_MESSAGE_CHARS].strip()


def _decoded_quoted_printable(body: str) -> str:
    """A body whose quoted-printable transfer encoding leaked through ("car=\nd", "=F0=9F=92=B3"), decoded;
    any other body as it is."""
    if ("=\n" not in body and "=\r\n" not in body) or _QP_ESCAPE_RE.search(body) is None:
        return body
    return quopri.decodestring(body.encode("utf-8", "replace")).decode("utf-8", "replace")


def _body_text(part: str, is_html: bool) -> str:
    # the cut counts from the first visible character: blank lines above the message are not its length
    part = _decoded_quoted_printable(part.lstrip()[: MAX_HTML_CHARS if is_html else MAX_TEXT_CHARS])
    # Some senders put markup in the text part.
    if is_html or (part.find("<", 0, 2_000) >= 0 and _LOOKS_LIKE_HTML_RE.search(part, 0, 2_000)):
        return html_to_text(part)
    return part


def normalise_email(subject: str = "", text: str = "", html: str = "") -> NormalisedEmail:
    """Normalise one email. The text body wins when it has the message; the HTML body is read when the text
    part is empty or a stub ("-- Jane", "[image: logo]", "This is a multi-part message in MIME format")."""
    forwarded = _is_forward_subject(subject)
    message = (
        newest_message(_body_text(text, is_html=False), forwarded=forwarded)
        if text and not text.isspace()
        else ""
    )
    words = len(message.split())
    if html and words < _STUB_WORDS:
        from_html = newest_message(_body_text(html, is_html=True), forwarded=forwarded)
        if not from_html and _BLOCKQUOTE_TAG_RE.search(html, 0, MAX_HTML_CHARS):  # answers among the quotes
            marked = html_with_quote_marks(_decoded_quoted_printable(html[:MAX_HTML_CHARS]))
            from_html = newest_message(marked, forwarded=forwarded)
        if len(from_html.split()) > words:
            message, words = from_html, len(from_html.split())
    # A reply whose body says little ("Any update?") is about its thread: then the thread's subject counts.
    subject = clean_subject(subject or "", keep_thread=words < _STUB_WORDS)
    return NormalisedEmail(subject=subject, message=message)
