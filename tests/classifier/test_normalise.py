"""The normaliser keeps the customer's newest message and drops everything else, on many email shapes."""

from __future__ import annotations

import time

import pytest
from email2chat.classifier.features import tokenize
from email2chat.classifier.normalise import (
    MAX_HTML_CHARS,
    MAX_MESSAGE_CHARS,
    clean_subject,
    html_to_text,
    html_with_quote_marks,
    newest_message,
    normalise_email,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NEWEST = "My card was stolen this morning and I see payments I did not make"
OLD = "How do I change the currency of my savings account"


@pytest.mark.parametrize(
    ("body", "label"),
    [
        (
            f"Hi team,\n\n{NEWEST}.\n\nOn Mon, 3 Jun 2024 at 10:02, Jane Doe <jane@x.com> wrote:\n> {OLD}",
            "gmail",
        ),
        (
            f"{NEWEST}\n\nOn Mon, 3 Jun 2024 at 10:02 Jane Doe <\njane@x.com> wrote:\n\n> {OLD}",
            "wrapped on-wrote",
        ),
        (
            f"{NEWEST}\n\n-----Original Message-----\nFrom: Jane\nSent: Monday\nTo: Support\n\n{OLD}",
            "outlook",
        ),
        (
            f"{NEWEST}\n\n________________________________\nFrom: Jane <j@x.com>\nSent: Monday\n{OLD}",
            "outlook web",
        ),
        (
            f"{NEWEST}\n\nFrom: Jane <j@x.com>\nSent: Monday, 3 June\nTo: help@bank\nSubject: hi\n\n{OLD}",
            "headers",
        ),
        (f"{NEWEST}\n\n---------- Forwarded message ---------\nFrom: Jane\nDate: Mon\n\n{OLD}", "forwarded"),
        (f"{NEWEST}\n\nBegin forwarded message:\n\n{OLD}", "apple forward"),
        (f"{NEWEST}\n\n-------- Message transféré --------\nSujet : Carte\n\n{OLD}", "French forward"),
        (
            f"{NEWEST}\n\n-------- Oryginalna wiadomość --------\nOd: Bank\n\n{OLD}",
            "a client's rule in any language",
        ),
        (
            "-----Original Message-----\nFrom: Bank <care@bank.example>\n"
            "Sent: Friday, August 2, 2024 12:36 PM\n"
            f"Subject: Card\n\nDear Jan,\n\n{OLD}\n\nBest wishes,\nGrace\nBank Customer Care\n\n"
            "We will never ask you for your full PIN or password by email.\n\n"
            f"Thanks Grace,\n\n{NEWEST}\n\nBR,\nJan",
            "a reply under unmarked history, after the bank's security notice",
        ),
        (f"{NEWEST}\n> {OLD}\n> more quoted text", "bare quote lines"),
        (
            f"Dear Sir or Madam,\n\n{NEWEST}\n\nKind regards,\nJane Doe\nHead of {OLD}",
            "sign-off and lines under",
        ),
        (f"Hello,\n{NEWEST}\n-- \nJane Doe\n{OLD}", "signature delimiter"),
        (f"{NEWEST}\nBest regards, Jane Doe\n{OLD}", "sign-off and name on one line"),
        (f"{NEWEST}\n\nSent from my iPhone\n\n{OLD}", "sent from"),
        (
            f"{NEWEST}\n\nCONFIDENTIALITY NOTICE: This email and any attachments are confidential and "
            "intended "
            f"solely for the addressee. {OLD}",
            "disclaimer",
        ),
        (
            f"Good morning,\nI hope this email finds you well.\n{NEWEST}\nThanks!\n{OLD}",
            "pleasantry + thanks",
        ),
    ],
)
def test_newest_message_survives_and_history_does_not(body: str, label: str) -> None:
    message = newest_message(body)
    assert tokenize(message) == tokenize(NEWEST), label


def test_inline_greeting_prefix_is_dropped_but_the_sentence_stays() -> None:
    assert newest_message(f"Hi Jane, {NEWEST}") == NEWEST


def test_a_line_that_starts_like_a_sign_off_but_says_more_is_kept() -> None:
    body = f"{NEWEST}\nThanks, my other card was stolen too\nBest, Jane"
    assert tokenize(newest_message(body)) == tokenize(f"{NEWEST} Thanks, my other card was stolen too")


def test_greeting_word_that_starts_a_real_sentence_is_kept() -> None:
    assert tokenize(newest_message("hey, have you approved my vacation time yet")) == tokenize(
        "have you approved my vacation time yet"
    )


def test_html_body_is_stripped_and_gmail_quote_dropped() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>var x = 'lost card';</script></head><body>"
        f"<div dir='ltr'><p>Hello,</p><p>{NEWEST} &amp; more</p><p>Regards,<br>Jane</p></div>"
        f"<div class='gmail_quote'><div>On Mon Jane wrote:</div><blockquote>{OLD}</blockquote></div>"
        "<!-- a comment about fraud --></body></html>"
    )
    normalised = normalise_email(html=html)
    assert tokenize(normalised.message) == tokenize(f"{NEWEST} and more") or tokenize(
        normalised.message
    ) == tokenize(f"{NEWEST} more")
    assert "fraud" not in normalised.message
    assert "lost" not in normalised.message


def test_outlook_html_reply_header_container_is_dropped() -> None:
    html = (
        f"<p>{NEWEST}</p><hr><div id='divRplyFwdMsg'><b>From:</b> Jane<br><b>Sent:</b> Mon</div><p>{OLD}</p>"
    )
    assert tokenize(normalise_email(html=html).message) == tokenize(NEWEST)


def test_text_body_wins_over_html_when_present() -> None:
    assert normalise_email(text=NEWEST, html=f"<p>{OLD}</p>").message == NEWEST
    assert normalise_email(text="  \n ", html=f"<p>{OLD}</p>").message == OLD


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: FW: [EXTERNAL] Card stolen", ""),  # a thread's subject: the reply's news is in its body
        ("[EXTERNAL] Card stolen", "Card stolen"),
        ("Re: Question", ""),
        ("URGENT", ""),
        ("", ""),
        ("Fwd: Re: my card was swallowed by the ATM", ""),
        ("my card was swallowed by the ATM", "my card was swallowed by the ATM"),
        # generic words, case and ticket references, reply prefixes in other languages
        ("Re: Your case 00123456 [ref:_00D1x2Y3z]", ""),
        ("RE: Case #48213 - Update", ""),
        ("Request for assistance", ""),
        ("Re: We've updated your request", ""),
        ("Card", ""),
        ("Account blocked - case 48213", "Account blocked"),
        ("Card stolen [Ref: HLB-6016003]", "Card stolen"),
        ("Contact form submission via website", ""),
        ("R: Card query", ""),
        ("Odp: Re: I found a direct debit I would like to dispute", ""),
        ("VB: Re: I was not given the right amount of cash", ""),
        ("Réf : Welcome to Northbank", ""),
        # words and numbers that carry the ask
        ("New card", "New card"),
        ("£1500 missing from account", "£1500 missing from account"),
        ("Bank card", ""),
        # a product or the bank's name says nothing about the case; a problem word does
        ("My Thistle Bank account", ""),
        ("Albion Building Society - my savings account", ""),
        ("Debit card", ""),
        ("Stolen debit card", "Stolen debit card"),
        ("Lost Card At Thistle Bank", "Lost Card At Thistle Bank"),
    ],
)
def test_a_subject_counts_only_when_it_says_something_about_the_case(subject: str, expected: str) -> None:
    assert clean_subject(subject) == expected


def test_model_text_uses_informative_subject() -> None:
    assert (
        normalise_email("Card stolen", "Please help me now").model_text()
        == "Card stolen.\nPlease help me now"
    )
    assert normalise_email("Re: question", "Please help me now").model_text() == "Please help me now"
    assert normalise_email("Card stolen", "").model_text() == "Card stolen"


@pytest.mark.parametrize(
    "body",
    ["", "   \n\t ", "<html><body><br></body></html>", "\x00\x01\x02", "-- \nJane", "> only quoted"],
)
def test_bad_or_empty_input_gives_empty_message(body: str) -> None:
    assert tokenize(normalise_email(text=body, html=body).message) == []


def test_huge_body_is_cut_safely_and_fast() -> None:
    body = (NEWEST + "\n") + ("lorem ipsum dolor sit amet " * 200_000)  # ~5.4 MB
    started = time.perf_counter()
    message = normalise_email(text=body).message
    elapsed = time.perf_counter() - started
    assert message.startswith(NEWEST)
    assert len(message) <= MAX_MESSAGE_CHARS
    assert elapsed < 1.0


@pytest.mark.parametrize(
    "body",
    [
        "-----Original Message-----\n" * 200_000,  # history starts everywhere, no sign-off below any
        "________\nFrom: a@b.example\nSent: 1 May 2024\n\nThanks,\n" * 30_000,
        "Begin forwarded message:\n" + "To: x\n" * 100_000,
    ],
)
def test_a_body_that_is_all_history_is_bounded(body: str) -> None:
    started = time.perf_counter()
    normalise_email(text=body)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "html",
    [
        "<" * 2_000_000,
        "<div " * 500_000,
        "<script>" * 300_000,
        "<blockquote>" * 200_000 + NEWEST,
        "<a href='" + "x" * 3_000_000,
        "<!--" * 500_000,
        "<p>" + "&amp;" * 1_000_000,
    ],
)
def test_pathological_html_is_bounded(html: str) -> None:
    started = time.perf_counter()
    normalise_email(html=html)
    html_to_text(html)
    assert time.perf_counter() - started < 2.0


def test_minified_single_line_body_is_bounded() -> None:
    started = time.perf_counter()
    newest_message("On " + "a " * 2_000_000 + "wrote:")
    newest_message("From: x " + "Sent: y " * 500_000)
    assert time.perf_counter() - started < 1.0


# --- properties: for any newest message and any wrapper, the newest words survive and the rest does not ----

_VOCABULARY = (
    "card stolen payment account money transfer blocked refund charge balance need help why my the "
    "was is not and please today urgent atm cash pin phone app limit"
)
_WORDS = st.sampled_from(_VOCABULARY.split())
_SENTENCE = st.lists(_WORDS, min_size=3, max_size=20).map(" ".join)
_MARKER_WORDS = ("zebraquoted", "yakquoted", "walrusquoted")  # never in a newest message


@st.composite
def wrapped_emails(draw: st.DrawFn) -> tuple[str, str]:
    newest = draw(_SENTENCE)
    marker = draw(st.sampled_from(_MARKER_WORDS))
    old = f"{draw(_SENTENCE)} {marker}"
    greeting = draw(st.sampled_from(["", "Hi,", "Hello team,", "Dear Sir or Madam,", "Good morning,"]))
    sign_off = draw(st.sampled_from(["", "Thanks,", "Kind regards,", "Best,", "Cheers,", "Many thanks,"]))
    signature = draw(
        st.sampled_from(
            [
                "",
                f"-- \nJane {marker}",
                f"Sent from my iPhone\n{marker}",
                f"Jane Doe\nHead of {marker.title()}\nT: +44 (0)20 7946 0958 | M: 07700 900461\n"
                f"www.{marker}.example",
            ]
        )
    )
    history = draw(
        st.sampled_from(
            [
                f"On Tue, 4 Jun 2024, Jane <j@x.com> wrote:\n> {old}",
                f"-----Original Message-----\nFrom: Jane\nSent: Tuesday\nTo: Bank\nSubject: x\n\n{old}",
                f"From: Jane <j@x.com>\nSent: Tuesday\nTo: Bank\n\n{old}",
                f"> {old}\n> {old}",
                f"---------- Forwarded message ---------\nFrom: Jane\n{old}",
            ]
        )
    )
    lines = [greeting, "", newest, ""]
    if sign_off:
        lines += [sign_off, f"Jane {marker}"]
    lines += [signature, "", history]
    return newest, "\n".join(lines)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wrapped_emails())
def test_property_newest_survives_quoted_and_signature_do_not(case: tuple[str, str]) -> None:
    newest, body = case
    message = newest_message(body)
    assert tokenize(message) == tokenize(newest)
    assert not any(marker in message for marker in _MARKER_WORDS)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=3_000))
def test_property_any_text_normalises_without_error_and_within_bounds(body: str) -> None:
    normalised = normalise_email(subject=body[:100], text=body, html=body)
    assert len(normalised.message) <= MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("my  card\twas   stolen", "my card was stolen"),  # ASCII: blank runs and tabs
        ("my  card was   stolen  ", "my card was stolen"),  # ASCII without tabs: runs of spaces only
        ("my\u00a0card\u200b was\u3000stolen", "my card was stolen"),  # Unicode blanks and zero-width
        ("my card\u00ad was stolen", "my card was stolen"),  # soft hyphen is invisible
        ("my card\n\n\n\n\nwas stolen", "my card\n\nwas stolen"),  # blank lines collapse to one
    ],
)
def test_blank_clean_up_is_the_same_on_the_ascii_fast_path_and_the_unicode_path(
    body: str, expected: str
) -> None:
    assert newest_message(body) == expected
    assert clean_subject(body.replace("\n", " ")) == " ".join(expected.split())


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_property_bottom_posted_reply_keeps_the_words_under_the_quote(data: st.DataObject) -> None:
    newest = data.draw(_SENTENCE)
    marker = data.draw(st.sampled_from(_MARKER_WORDS))
    old = f"{data.draw(_SENTENCE)} {marker}"
    header = data.draw(
        st.sampled_from(
            ["On Tue, 4 Jun 2024, Jane <j@x.com> wrote:", "Am 4. Juni 2024 um 10:02 schrieb Jane <j@x.com>:"]
        )
    )
    body = f"{header}\n> {old}\n>\n> Jane\n\n{newest}\n\nThanks,\nSam"
    message = newest_message(body)
    assert tokenize(message) == tokenize(newest)
    assert marker not in message


# --- the shapes of real mail that a second, independent email generator found (see README) ----------------


@pytest.mark.parametrize(
    ("body", "label"),
    [
        (f"Hi,\n\nThanks!\n\n{NEWEST}\n\nSam", "a thanks line opens the message"),
        (f"Dear Madam/Sir,\n\nMany thanks.\n\n{NEWEST}", "thanks after a greeting with a slash"),
        (f"{NEWEST}\n\n##- Please type your reply above this line -##\n\n{OLD}", "help-desk marker"),
        (
            f"{NEWEST}\n\nAm Do., 6. März 2025 um 17:21 Uhr schrieb Jane <jane@x.com>:\n\n{OLD}",
            "German attribution",
        ),
        (
            f"{NEWEST}\n\nVan: Jane Doe\nVerzonden: maandag 3 juni 2024 10:02\nAan: Bank\n\n{OLD}",
            "Dutch header block",
        ),
        (
            f"{NEWEST}\n\nMet vriendelijke groet,\nJane Doe\nHead of Procurement\nNorthwind Traders Ltd",
            "any-language sign-off",
        ),
        (
            f"{NEWEST}\n\nJane Doe\nTel +49 30 901820 | Fax +49 30 901821\nwww.northwind.example",
            "contact block",
        ),
        (
            f"{NEWEST}\n\nKind regards,\n\nJane\n\nOwner\n\nwww.example.com",
            "HTML signature, one div per line",
        ),
        (f"{NEWEST}\n\nty x\nsam", "kiss and a lower-case name"),
        (
            "CAUTION: This email originated from outside of the organization. Do not click links.\n\n"
            f"Hi team,\n\n{NEWEST}",
            "security banner above the greeting",
        ),
        (
            f"{NEWEST}\n\nTHIS E-MAIL AND ANY FILES TRANSMITTED WITH IT ARE PROPRIETARY AND MAY BE "
            f"PRIVILEGED.\n{OLD}",
            "disclaimer in capitals",
        ),
        (f"{NEWEST}\n\n[image: Northwind logo]", "inline image placeholder"),
        (
            f"{NEWEST}\n\nGesendet: Dienstag, 13. Mai 2024 um 19:42 Uhr\nVon: Bank <care@bank.example>\n"
            f"An: Jane <j@x.com>\nBetreff: Ihre Anfrage\n\n{OLD}",
            "header keys in another order and language",
        ),
        (f"{NEWEST}\n\nSent with Proton Mail secure email.", "sent with an app"),
        (
            f"CAUTION: External email. Take care with links and attachments.\n\nHello,\n\n{NEWEST}",
            "caution banner",
        ),
        (
            "Mrs W. Coles\nFlat 2, Belmont Court\nBicester\nOX26 6JT\n\n26th December 2025\n\n"
            f"Dear Sir/Madam,\n\n{NEWEST}\n\nYours faithfully,\n\nWinifred Coles (Mrs)",
            "a letter's heading above the greeting",
        ),
        (
            f"{NEWEST}\n\nOn Mon, 3 Jun 2024, Bank <care@bank.example> wrote:\n> {OLD}\n\n"
            "Ta wiadomość może zawierać informacje poufne.",
            "a gateway footer under the quote of a top-posted reply",
        ),
        (
            "New enquiry submitted via bank.example/contact-us\n\nName: Jane Doe\nEmail: j@x.com\n"
            f"Phone: 07700 900461\nTopic: Cards\nMessage:\n{NEWEST}\n\n---\nSubmitted from IP 81.2.69.154",
            "a contact form relayed by e-mail",
        ),
        (
            "[Contact Us] Form submission\nSubmitted at 24/11/2024 12:59\n\n"
            "PHONE (OPTIONAL):\t+44 7824 711433\n"
            f"COMMENTS:\t{NEWEST}\nEMAIL:\tj@x.com\nWHAT IS YOUR ENQUIRY ABOUT?:\tGeneral enquiry\n\n"
            "IP address: 124.10.6.96\nUser agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X)",
            "a form with capitalised labels and tabs, the message field among the others",
        ),
        (
            "*Full Name*\nJane Doe\n\n*How should we contact you?*\nEither\n\n*How can we help?*\n"
            f"{NEWEST}\n\n*Email Address*\nj@x.com\n\n*Topic*\nGeneral enquiry",
            "a form with starred labels over their values",
        ),
        (
            f"Details\n{NEWEST}\n\nTopic\nGeneral enquiry\n\nEmail\nj@x.com\n\n"
            "First and last name\nJane Doe\n\n"
            "(Sent via Squarespace form)",
            "a form with bare labels over their values",
        ),
        (
            "What is your enquiry about?\nPayments\n\nHow should we contact you?\nEither\n\n"
            f"Message\nHi team, {NEWEST}\n\nEmail Address\nj@x.com\n\n(Sent via Squarespace form)",
            "a form whose first bare label is a question",
        ),
        (
            "You have a new voicemail from +44 7700 900461 (JANE DOE)\nReceived: 25/10/2024 13:58\n"
            f'Duration: 0:14\n\nTranscription (beta):\n"{NEWEST}"\n\n'
            "Transcription accuracy may vary. Listen to the attached audio.\nAttachment: voicemail-54000.wav",
            "a voicemail transcription",
        ),
        (
            "-----Original Message-----\nFrom: Bank Support <care@bank.example>\n"
            "Sent: Tuesday, 2 January 2024\nTo: jane@x.com\nSubject: RE: Card\n\n"
            f"Dear Jane,\n\n{OLD}\n\nKind regards,\nSarah\nCustomer Care\n\n"
            "Lost or stolen card? Report it 24/7 in the app.\n\n"
            f"Hi Sarah,\n\n{NEWEST}\n\nThanks\nJane",
            "a reply under history with no quote markers",
        ),
        (
            f"{NEWEST}\n\nAm 25.03.2025 um 21:48 schrieb Bank Support:\n> Dear Jane,\n> {OLD}",
            "German attribution, the verb before the name",
        ),
        (
            "[Auto-forwarded by a rule]\n\nBegin forwarded message:\n\nFrom: Jane Doe <jane@x.com>\n"
            "Subject: Card\nDate: 21 August 2024 at 02:51:00 GMT\nTo: care@bank.example\n\n\n"
            "Dear Sir or Madam,\n\n"
            f"{NEWEST}\n\nBR,\nJane Doe\n\n-----Original Message-----\nFrom: Jane Doe\nSent: Monday\n\n{OLD}",
            "a forward with no words of its own: the forwarded message, not its history",
        ),
    ],
)
def test_newest_message_survives_in_real_mail_shapes(body: str, label: str) -> None:
    assert tokenize(newest_message(body)) == tokenize(NEWEST), label


@pytest.mark.parametrize(
    "sentence",
    [
        "Can you check about unauthorized use of my card, I think someone is using mine",
        "I sent money but the intended recipient says it hasn't arrived",
        "Sent using Apple Pay but it was declined",
        "Thanks, my other card was stolen too",
    ],
)
def test_a_customer_sentence_with_a_disclaimer_or_sign_off_word_is_kept(sentence: str) -> None:
    assert tokenize(newest_message(f"Hi,\n\n{sentence}\n\nSam")) == tokenize(sentence)


def test_an_inline_reply_under_pipe_quote_markers_keeps_the_answers_only() -> None:
    body = (
        f"Hi, replies inline\nOn Sun, Jan 19, 2025 at 10:48 AM Bank <care@bank.example> wrote:\n| {OLD}\n\n"
        f"| Could you tell us more?\n{NEWEST}\n\n| Kind regards,\n| Daniel"
    )
    assert newest_message(body) == NEWEST  # "replies inline" is the key of the reply, not its words


@pytest.mark.parametrize(
    "stub",
    [
        "To view this email as a web page, go here.",
        "[This message is HTML only. Please use an HTML-capable mail client to view it.]",
        "[This email was sent in HTML format]",
    ],
)
def test_a_text_part_that_points_to_the_html_part_gives_way_to_it(stub: str) -> None:
    assert normalise_email("", stub, f"<p>Hi,</p><p>{NEWEST}</p><p>Thanks</p>").message == NEWEST


@pytest.mark.parametrize(
    "body",
    [
        f"Dear team,\n\nI opened the account last month.\n\nYours faithfully,\nL\n\nP.S. {NEWEST}",
        f"Hi,\nI opened the account last month.\n-- \nJane Doe\n07700 900123\n\nPS: {NEWEST}",
        f"Hi,\nI opened the account last month.\n\nThanks,\nJane\n\nP.P.S. {NEWEST}\n\n"
        f"On Mon, 3 Jun 2024 at 10:02, Bank <care@bank.example> wrote:\n> P.S. {OLD}",
    ],
)
def test_a_postscript_under_the_signature_is_the_customers(body: str) -> None:
    message = newest_message(body)
    assert NEWEST in message
    assert OLD not in message
    assert "Jane" not in message


def test_an_outlook_html_reply_written_under_its_header_block_is_read() -> None:
    html = (
        '<div id="divRplyFwdMsg"><b>De: </b>Bank &lt;care@bank.example&gt;<br>'
        "<b>Enviado: </b>martes, 6 de agosto de 2024 09:25<br><b>Asunto: </b>Card</div>"
        f"<p>Dear Michael,</p><p>{OLD}</p><p>Regards,<br>Priya<br>Bank Customer Care</p>"
        f"<p>Thanks, that's all clear now.</p><p>{NEWEST}</p><p>Kind regards,</p><p>Michael</p>"
    )
    message = normalise_email("RE: Card", "", html).message
    assert NEWEST in message
    assert OLD not in message


def test_a_web_form_laid_out_as_an_html_table_keeps_its_message_field() -> None:
    def row(label: str, value: str) -> str:
        return (
            f'<tr><td style="font-weight:bold"><b>{label}</b></td><td style="padding:4px">{value}</td></tr>'
        )

    html = (
        "<h3>New Contact Us submission</h3><table>"
        + row("Name", "Jane Doe")
        + row("Email", "jane@example.com")
        + row("Topic", "Cards")
        + row("Message", f"Hello,<br><br>{NEWEST}<br><br>Thanks,<br>Jane")
        + "</table><p>Submitted 2025-04-23 09:25 UTC. This is an automated notification.</p>"
    )
    assert normalise_email("Contact form", "", html).message == NEWEST


def test_a_signature_table_without_sign_off_is_dropped_though_its_blank_lines_run_past_the_limit() -> None:
    # one <div> per line beside a logo: each comes out with a blank line under it; only filled lines count
    lines = (
        "Jane Doe",
        "Finance Assistant",
        "Northwind Traders Ltd",
        "T: +44 (0)20 7946 0958 | M: +44 7700 900461",
        "Unit 4, Harbour Park, Bristol BS1 6XN, United Kingdom",
        "Connect with me on LinkedIn",
        "Our office hours are Mon-Fri 9:00-17:30.",
    )
    html = (
        f'<div><p>{NEWEST}</p><table><tr><td><img src="logo.png" alt="Company logo"></td><td>'
        + "".join(f"<div>{line}</div>" for line in lines)
        + "</td></tr></table></div>"
    )
    assert normalise_email("Question", "", html).message == NEWEST


def test_a_layout_table_without_a_message_cell_is_not_joined() -> None:
    html = f"<table><tr><td>Jane Doe</td><td>Head of Procurement</td></tr></table><p>{NEWEST}</p>"
    assert "Jane Doe: Head" not in html_to_text(html)


def test_a_postscript_of_the_quoted_history_is_not_read() -> None:
    body = f"{NEWEST}\n\nThanks,\nJane\n\nOn Mon, 3 Jun 2024, Bank <care@bank.example> wrote:\n\nP.S. {OLD}"
    assert newest_message(body) == NEWEST


def test_a_stub_text_part_gives_way_to_the_html_part() -> None:
    for stub in ("-- \nJane Doe", "This is a multi-part message in MIME format.", "[image: logo]"):
        assert normalise_email(text=stub, html=f"<p>{NEWEST}</p><p>Jane</p>").message == NEWEST


def test_leaked_quoted_printable_is_decoded() -> None:
    body = "I lost my car=\nd and I need to report it =F0=9F=92=B3"
    assert tokenize(normalise_email(text=body).message) == tokenize("I lost my card and I need to report it")


def test_a_bottom_posted_html_reply_is_read_under_the_quote() -> None:
    html = (
        "<div class='gmail_quote'><div>On Fri, Bank wrote:</div><blockquote class='gmail_quote'>"
        f"<div>{OLD}</div></blockquote></div><div>{NEWEST}</div>"
    )
    assert normalise_email(html=html).message == NEWEST


@pytest.mark.parametrize("body", ["See underneath.\n\ncancel\n\nRegards\nNiamh", "hey ai cancel it now"])
def test_a_short_ask_is_never_stripped_away(body: str) -> None:
    assert "cancel" in newest_message(body)


# --- ordinary customer text that looks like mail furniture (an adversarial review's cases) -----------------


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        (
            "Name: Jane Doe\nDOB: 01/02/1980\nPhone: 07700 900123\n\n"
            "Please close my account and send me a cheque for the balance.",
            "Please close my account",
        ),
        (
            "Jane Doe\n12 High Street\nLondon SW1A 1AA\n07700 900123\n\nI want to close my account.",
            "close my",
        ),
        (
            "Hi,\nI sent money to the wrong account.\nIBAN GB29 NWBK 6016 1331 9268 19\n"
            "Can you recall the payment?",
            "recall the payment",
        ),
        ("Hi,\nMy card is blocked.\nCall back on 07700 900123 after 5pm", "Call back"),
        (
            "The payment below has not arrived:\nPayee: John Smith\nAmount: £250\nDate: 12/03/2024\nJane",
            "Amount: £250",
        ),
        ("Hi,\nPlease can you:\n1. Cancel Card Ending 1234\n2. Send New Card To Home Address", "Cancel Card"),
        ("URGENT\nCARD STOLEN, BLOCK ACCOUNT\nJOHN SMITH", "CARD STOLEN"),
        (
            "External transfer to Monzo failed\nI sent 500 yesterday and it bounced.\n\nCan you check?",
            "bounced",
        ),
        (
            "Hi,\nWe have moved our registered office to 5 King Street, Leeds.\n"
            "Please update the business account address.",
            "registered office",
        ),
        (
            "Name: Jane Doe\nEmail: jane@example.com\nPhone: 07700 900123\nSubject: Card\n"
            "Message: My card was stolen, please block it.",
            "My card was stolen",
        ),
        ("Hi,\nThanks for your help.\nStill no card received.", "Still no card"),
        (
            "From: my current account\nTo: my savings account\nAmount: £500\n\n"
            "The transfer failed twice, why?",
            "why",
        ),
        ("Sent with the wrong reference, can you fix it?", "wrong reference"),
        (
            "I emailed complaints@bank.co.uk on 3 March 2024 and was told:\nwe cannot refund you.\n"
            "This is wrong, I want to escalate my complaint.",
            "escalate",
        ),
        ("Card blocked abroad\n\nHello,\nI'm in Spain and it is declined everywhere.", "Card blocked abroad"),
        ("Hi,\nI see unauthorised use of my card on my statement.", "unauthorised use"),
        ("If my card is lost or stolen, can I call you from abroad?", "call you from abroad"),
        ("We never asked for a new card, why did one arrive?", "why did one arrive"),
        ("Please block my card\x0bit was stolen", "it was stolen"),
        (
            "My card was stolen last night, please block it.\n\nName: Jane Doe\nAccount: 12345678\n"
            "Details: Visa debit",
            "My card was stolen",
        ),
        ("On Monday I wrote to you about this, at 10:15:\nmy card is still blocked.", "still blocked"),
        (
            "Hi,\nMy question is: why was my card declined?\nName: Jane\nAccount: 1234",
            "why was my card declined",
        ),
    ],
)
def test_ordinary_customer_text_that_looks_like_mail_furniture_is_kept(body: str, kept: str) -> None:
    assert kept in newest_message(body)


def test_a_disclaimer_with_two_weak_cues_goes_and_a_greeting_alone_is_no_message() -> None:
    body = (
        "My card is blocked, please help.\n\nConfidential and privileged. Other use is strictly prohibited."
    )
    assert newest_message(body) == "My card is blocked, please help."
    assert newest_message("Hi,\n\n-- \nJane") == ""


def test_a_short_reply_keeps_its_thread_subject() -> None:
    assert normalise_email("Re: Lost card", "Any update?").model_text() == "Lost card.\nAny update?"
    assert normalise_email("Re: Lost card", "I found it in my coat, all fine now.").subject == ""


def test_line_breaks_other_than_newline_split_lines_and_stay_fast() -> None:
    started = time.perf_counter()
    newest_message(("Thanks" + "\x0b" * 2_000 + "\n") * 50)
    newest_message("Hi" + " \u2028" * 50_000)
    assert time.perf_counter() - started < 1.0


# --- set 7 (session 5): shapes a seventh blind generator found ---------------------------------------------

_MEMO_HEADER = "To: Customer Services\nFrom: Jane Doe\nDate: 28.01.2026\nRe: My account\n"


@pytest.mark.parametrize(
    "body",
    [
        f"{_MEMO_HEADER}\n--------------------\n\nDear Sir or Madam,\n\n{NEWEST}.\n\nRegards,\nJane Doe",
        f"MEMO\n====\n{_MEMO_HEADER}CC: -\n\nHello,\n\n{NEWEST}\n\nCheers,\nJane",
        f"{_MEMO_HEADER}\n{NEWEST}.\n\nThanks,\nJane\n\n=== previous message ===\n{_MEMO_HEADER}\nHi,\n{OLD}",
        # a forward of the customer's own message with neither a separator nor a comment
        f"From: Jane Doe <jane@x.com>\nSent: Monday, 3 March 2025 09:09\nTo: help@bank.com\n"
        f"Subject: card\n\nHi all,\n\n{NEWEST}\n\nThanks,\nJane",
    ],
    ids=["memo", "memo with a title", "memo over a memo", "forward without separator"],
)
def test_a_message_under_a_header_block_that_opens_the_body_is_read(body: str) -> None:
    assert newest_message(body) == NEWEST + ("." if f"{NEWEST}." in body else "")


def test_a_bank_message_under_a_quoted_header_that_opens_the_body_is_not_read_as_the_customers() -> None:
    notice = "Your statement for May is now available to view in online banking."
    quoted_header = "From: Bank <noreply@bank.com>\nSent: Friday, 2 June 2023 16:51\nTo: Jane <j@x.com>\n"
    assert newest_message(f"{quoted_header}Subject: Statement\n\n{notice}") == ""
    assert newest_message(f"-----Original Message-----\n{_MEMO_HEADER}\nDear Jane,\n\n{notice}") == ""


_BASE64 = "Mv+9xjK0AilAwnnLGIIBacepO4YDfsMqYQCm7j976d688Bc8dgoA8+SWdChxUEAaRZRUxpNlzh/l"


@pytest.mark.parametrize(
    "leak",
    [
        f'--000000000004b2c1d05f8a7\nContent-Type: image/png; name="image.png"\n'
        f"Content-Transfer-Encoding: base64\n\n{_BASE64}\n{_BASE64[:30]}==\n--000000000004b2c1d05f8a7--",
        f"--Apple-Mail=_1F2E3D4C\nContent-Type: application/pdf\n\n{_BASE64}\n{_BASE64}",  # never closed
        f"{_BASE64}\n{_BASE64}\n{_BASE64[:20]}=",  # a payload alone
        "[image: logo_sig.png]<https://example.net/sig>\n<cid:image005.png@01DAC469.C50C0AD1>\n"
        "<<winmail.dat>>\n(See attached file: statement.pdf)\nAttachments: 2 files\n"
        "\U0001f4ce 1 attachment \u2022 Scanned by Gmail\n[Attachment: Screenshot_2026-01-04.png]",
    ],
    ids=["closed mime part", "unclosed mime part", "base64 lines", "attachment placeholders"],
)
def test_leaked_mime_parts_base64_and_attachment_placeholders_are_not_the_message(leak: str) -> None:
    assert newest_message(f"Hello,\n\n{NEWEST}.\n\n{leak}\n\nCheers,\nJane") == f"{NEWEST}."
    assert newest_message(f"Hello,\n\n{leak}\n\n{NEWEST}.\n\nCheers,\nJane") == f"{NEWEST}."


def test_a_customer_line_about_an_attachment_is_kept() -> None:
    body = "I have attached a screenshot of the payment I did not make.\n\nJane"
    assert newest_message(body) == "I have attached a screenshot of the payment I did not make."


@pytest.mark.parametrize(
    ("garbled", "clean"),
    [
        ("I hope youâ€™re well. My card was stolenÂ\u00a0today.", "My card was stolen today."),
        ("Mon paiement a Ã©tÃ© bloquÃ©", "Mon paiement a été bloqué"),
        ("I logged in wrong and am blocked\uff0c how do I log\u3000in\uff1f", "blocked, how do I log in?"),
        ("My card was \u200estolen\u200f\u202a today\u202c", "My card was stolen today"),
        ("pâte brisée, naïve “quotes”", "pâte brisée, naïve “quotes”"),  # real accents stay
    ],
    ids=["cp1252 mojibake", "accents as mojibake", "full-width forms", "direction marks", "real accents"],
)
def test_mojibake_full_width_forms_and_direction_marks_are_cleaned(garbled: str, clean: str) -> None:
    assert clean in newest_message(garbled)


def test_an_attribution_wrapped_in_direction_marks_is_history() -> None:
    body = f"{NEWEST}\n\n\u200e07/01/2025 18:36\u200f \u202bBank\u202c <help@bank.com>\u200f wrote:\n> {OLD}"
    assert newest_message(body) == NEWEST


def test_answers_between_quotes_under_an_attribution_without_a_date_are_read() -> None:
    body = (
        "Good afternoon,\n\nBank Customer Care wrote:\n> Dear Jane,\n> What is the best time to call you?\n\n"
        f"Mornings.\n\n> Is there anything else we can help you with today?\n\n{NEWEST}\n\n> Kind regards\n\n"
        "Thanks,\nJane"
    )
    assert newest_message(body) == f"Mornings.\n\n{NEWEST}"


def test_a_letter_with_two_addresses_a_date_and_a_reference_line_keeps_its_body() -> None:
    body = (
        "Jane Doe\nThe Old Rectory\nChurch Street\nLudlow SY8 1AW\n\nNorthgate Bank\nCustomer Services\n"
        "PO Box 432\nCoventry\n\n27 August 2026\n\nAccount no: ****1481\n\nDear Sir or Madam,\n\n"
        f"RE: ACCOUNT ENQUIRY\n\n{NEWEST}.\n\nI look forward to your reply.\n\nYours faithfully,\n\nJane Doe"
    )
    assert newest_message(body) == f"{NEWEST}."


@pytest.mark.parametrize(
    "notice",
    [
        "Jane D. replied via the Bank app:",
        "Message sent via secure messaging portal on 21/02/2026 20:29",
        "(Translated by Google Translate \u2013 please excuse any mistakes)",
        "Translated from Spanish by Gmail",
        "Sorry for my English, I use a translation app.",
        "I hope this is the right place to ask.",
        "Apologies if this is the wrong address.",
        "Answers inline below.",
        "My answers are in capitals below.",
        "Replies below in line.",
        "Hope this finds you well.",
        "See below, forwarding as requested.",
        "Forwarding this from my other email address.",
    ],
)
def test_wrapper_translation_and_right_place_notices_above_the_message_are_dropped(notice: str) -> None:
    assert newest_message(f"{notice}\n\nHello,\n\n{NEWEST}\n\nThanks,\nJane") == NEWEST


@pytest.mark.parametrize(
    "closing",
    [
        "Thanks for reading.",
        "I look forward to your reply.",
        "Let me know if you need anything else from me.",
        "Have a nice weekend,",
        "Speak soon.",
    ],
)
def test_courtesy_closings_are_dropped(closing: str) -> None:
    assert newest_message(f"{NEWEST}\n\n{closing}\n\nJane") == NEWEST


@pytest.mark.parametrize(
    "sign_off",
    [
        "Thanking you,\nRavi Kumar",
        "Thanking you in anticipation,\nMrs Dorothy Willis",
        "I will be thankful to you,\nRavi",
        "I shall be highly obliged.\nRavi",
        "Waiting for your kind response.\nRavi",
        "Appreciate it - David Lewis",
        "Appreciate your help,\nKwame Mensah",
        "Looking forward to hearing from you soon.\nAnna",
    ],
)
def test_sign_offs_of_many_registers_end_the_message(sign_off: str) -> None:
    assert newest_message(f"Respected Sir/Madam,\n\n{NEWEST}.\n\n{sign_off}") == f"{NEWEST}."


@pytest.mark.parametrize(
    "courtesy",
    [
        "Would be grateful for a reply.",
        "I should be most grateful for a reply by letter or by telephone (evenings are best).",
        "I would be obliged if you would look into this matter at your earliest convenience.",
        "Hoping someone can help.",
        "Any help appreciated.",
        "Let me know what you need from me.",
        "Happy to provide any more details if needed.",
        "Thanks in advance for looking into it.",
        "Thank you for your attention to this matter.",
        "Have a nice day and thank you,",
    ],
)
def test_a_courtesy_over_the_name_is_a_sign_off(courtesy: str) -> None:
    assert newest_message(f"{NEWEST}.\n\n{courtesy}\nJane Doe\n07700 900123") == f"{NEWEST}."
    assert newest_message(f"{NEWEST}.\n\n{courtesy}") == f"{NEWEST}."


def test_an_ask_phrased_as_gratitude_is_kept() -> None:
    body = "I would be grateful if you could block my card straight away.\n\nJane"
    assert newest_message(body) == "I would be grateful if you could block my card straight away."


def test_an_external_source_banner_is_a_disclaimer() -> None:
    banner = (
        "WARNING: This message came from an external source. Please exercise caution when opening any "
        "attachments or clicking on links."
    )
    assert newest_message(f"{banner}\n\n{NEWEST}") == NEWEST


@pytest.mark.parametrize(
    "courtesy",
    ["Waiting for your kind response.", "Please revert back at the earliest.", "Thanks in advance."],
)
def test_a_courtesy_that_ends_the_last_line_as_its_own_sentence_is_dropped(courtesy: str) -> None:
    assert newest_message(f"Hello,\n\nMy card was stolen. Why is it still active? {courtesy}") == (
        "My card was stolen. Why is it still active?"
    )


def test_a_sentence_that_only_starts_like_a_courtesy_is_kept() -> None:
    body = "My card was stolen. Please help me block it before they use it again."
    assert newest_message(body) == body
    assert newest_message("I will be grateful if you block my card today.\n\nJane") == (
        "I will be grateful if you block my card today."
    )


@pytest.mark.parametrize(
    "details",
    [
        "My details:\n\n- Customer since: 1997\n- Postcode: RG1 9JY\n- Account ending: 2048\n"
        "- Mobile: 07380 xxx 288",
        "So you have them:\n1. Name: Jane Doe\n2. Email: jane.doe@example.com\n3. Sort code: 20-63-69",
    ],
)
def test_a_list_of_personal_details_is_not_the_message(details: str) -> None:
    assert newest_message(f"Hi,\n\n{NEWEST}.\n\n{details}\n\nBest,\nJane") == f"{NEWEST}."
    assert newest_message(f"Hi,\n\n{details}\n\n{NEWEST}.\n\nBest,\nJane") == f"{NEWEST}."


@pytest.mark.parametrize(
    "rows",
    [
        "07/02 CONTACTLESS COSTA COFFEE LEEDS £3.95\n12/03 CARD PAYMENT TESCO STORES 3345 £23.50",
        "03 MAR DD BRITISH GAS ENERGY £86.00",
        "14/02/2025 FASTER PAYMENT RECEIVED J SMITH RENT £650.00",
        "Mar 19 AMZN MKTP US*2K4 $17.99",
    ],
)
def test_rows_pasted_from_a_statement_are_not_the_message(rows: str) -> None:
    assert newest_message(f"Hi,\n\n{NEWEST}.\n\n{rows}\n\nThanks,\nJane") == f"{NEWEST}."


@pytest.mark.parametrize(
    "line",
    [
        "12/03 SOMEONE TOOK £500 FROM MY ACCOUNT PLEASE HELP",
        "MAY 5 STOLEN CARD, £300 GONE",
        "1-2 HOURS AGO I LOST £200 - CARD STOLEN",
        "12/03 SOMEONE TOOK MY £500.00",
        "3 maybe £5.00 went missing",
        "12/03 我的卡被盗了 £500.00",
    ],
)
def test_a_customer_line_in_capitals_or_without_case_is_not_a_statement_row(line: str) -> None:
    assert newest_message(f"Hi,\n\n{line}\n\nJane").startswith(line)


def test_a_customer_sentence_that_starts_with_a_date_and_the_ask_above_a_row_are_kept() -> None:
    sentence = "12/03 I was charged £23.50 twice at Tesco"
    assert newest_message(sentence) == sentence
    body = "I don't recognise this one:\n19/03 CARD PAYMENT SAINSBURYS S/MKT £41.62\nIt wasn't me."
    assert newest_message(body) == "I don't recognise this one:\nIt wasn't me."


def test_a_detail_label_with_an_ask_for_its_value_is_kept() -> None:
    body = "Account: someone has taken money from it and I want it blocked now\nName: as on the card\n\nJane"
    assert "someone has taken money" in newest_message(body)


def test_a_forward_note_is_cut_at_its_sentence_end_only() -> None:
    body = "Forwarding this so you have my details (that was resolved). My card was stolen today.\n\nJane"
    assert newest_message(body) == "My card was stolen today."


def test_a_one_word_top_post_above_history_is_kept() -> None:
    quoted = "From: Bank <help@bank.com>\nSent: Monday, 3 March 2025 09:09\nTo: Jane <j@x.com>\nSubject: card"
    body = f"FRAUD\n\n{quoted}\n\nDear Jane,\n\nThank you for your message.\n\nRegards,\nBank\n\nHi,\n{OLD}"
    assert newest_message(body) == "FRAUD"


@pytest.mark.parametrize("footer", ["Sent via the Samsung Email app", "Sent through the BlueMail app"])
def test_a_mail_app_footer_naming_the_app_is_not_the_message(footer: str) -> None:
    assert newest_message(f"{NEWEST}\n\n{footer}") == NEWEST


def test_the_banks_lost_card_banner_is_a_footer_and_a_customers_lost_card_line_is_not() -> None:
    banner = "Lost or stolen card? Report it 24/7 in the app under Card > Report lost."
    assert newest_message(f"{banner}\n\nHi,\n\n{OLD}\n\nJane") == OLD
    assert newest_message("Stolen card? Block it now please\n\nJane") == "Stolen card? Block it now please"


OUTLOOK_HEADER = (
    "From: Jane Doe <jane@example.com>\nSent: Monday, 3 March 2025 09:09\n"
    "To: help@bank.example\nSubject: card"
)


@pytest.mark.parametrize("separator", ["-----Original Message-----", "________________________________"])
def test_a_forward_subject_reads_the_message_under_any_separator(separator: str) -> None:
    text = f"[Auto-forwarded by a rule]\n\n{separator}\n{OUTLOOK_HEADER}\n\n{NEWEST}\n\nThanks,\nJane"
    assert normalise_email("FW: card", text).message == NEWEST
    assert normalise_email("Re: card", text).message == ""  # a reply's history is not its message


def test_a_forward_under_banners_with_no_separator_is_read() -> None:
    text = (
        "CAUTION: This email originated from outside of the organisation. Do not click links.\n\n"
        f"[Auto-forwarded by a rule]\n\n{OUTLOOK_HEADER}\n\nSo, {NEWEST}\n\nThx\nJane Doe"
    )
    assert normalise_email("[EXTERNAL] FW: card", text).message == f"So, {NEWEST}"


def test_an_html_forward_inside_gmail_quote_containers_is_read() -> None:
    html = (
        '<div dir="ltr"><div class="gmail_quote"><div class="gmail_attr">---------- Forwarded message '
        "---------<br>From: Jane &lt;jane@example.com&gt;<br>Date: Fri, 23 Aug 2024<br>"
        "Subject: card<br></div>"
        f"<div>Hi team,</div><div>{NEWEST}</div><div>Thanks,<br>Jane</div>"
        '<div class="gmail_quote">On Sat, 17 Aug 2024, Jane wrote:<blockquote class="gmail_quote">'
        f"<div>{OLD}</div></blockquote></div></div></div>"
    )
    assert normalise_email("Fwd: card", "", html).message == NEWEST


def test_an_html_reply_under_a_quote_with_answers_in_it_is_read() -> None:
    html = (
        "<div>Hi Grace,</div><div>Answers below.</div>"
        "<div>On Wed, 25 Jan 2023, Bank &lt;care@bank.example&gt; wrote:</div>"
        "<blockquote><div>Dear Jane,</div><div>When can we call you?</div>"
        f"<p><b>[Any time after 5pm.]</b></p><div>{OLD}</div><div>Many thanks,<br>Grace</div></blockquote>"
        f"<div>{NEWEST}</div><div>Have a nice weekend,</div><div>Jane</div>"
    )
    assert normalise_email("Re: your message", "", html).message == NEWEST
    marked = html_with_quote_marks("<p>a</p><blockquote><p>b</p><blockquote>c</blockquote></blockquote>")
    assert [line for line in marked.split("\n") if line.strip(" >")] == ["a", "> b", "> > c"]


def test_a_first_line_that_only_opens_with_a_pleasantry_keeps_the_name_under_it_out() -> None:
    assert newest_message(f"Sorry to bother you, {NEWEST}.\n\nJane") == f"{NEWEST}."
    assert newest_message(f"Forwarding this, as asked. {NEWEST}.\n\nJane") == f"{NEWEST}."


@pytest.mark.parametrize("ask", ["Stop?", "Refund!"])
def test_a_one_word_question_or_exclamation_is_not_a_name(ask: str) -> None:
    assert (
        newest_message(f"I'm writing about my account.\n\n{ask}") == f"I'm writing about my account.\n\n{ask}"
    )


def test_a_bottom_post_under_a_polish_attribution_is_read() -> None:
    body = (
        "W dniu 07.01.2024 o 14:24, Bank Customer Care pisze:\n> Hi Jan,\n>\n> Your request is done.\n>\n"
        "> Regards,\n> Grace\n>\n> piątek, 5 stycznia 2024 13:27 Jan <jan@example.com> napisał(a):\n"
        f">> Dear Sir/Madam,\n>>\n>> {OLD}\n\nHello again,\n\n{NEWEST}\n\nAll the best,\nJan"
    )
    assert newest_message(body) == NEWEST


def test_a_bare_german_greeting_is_a_sign_off() -> None:
    assert newest_message(f"{NEWEST}\nGrüße\nRhiannon") == NEWEST


@pytest.mark.parametrize(
    "closing",
    [
        "Hope that makes sense.",
        "Ta very much.",
        "See subject.",
        "As above.",
        "Title says it all.",
        "no that's all",
        "Pronouns: she/her",
        "Customer since 2004",
        "Customer no. 82484340",
        "Nguyen x",
        "- Daniel",
        "~Emeka",
        "Thank you kindly,\nJo",
        "With best regards,\nJo",
        "Outlook für iOS beziehen<https://aka.ms/o0ukef>",
        "My mobile is 07700 918 442.",
        "The best number to reach me on is 07700 900 457.",
        "my number is +44 7911 123456 if easier",
    ],
)
def test_closings_pointers_and_signature_lines_are_dropped(closing: str) -> None:
    assert newest_message(f"{NEWEST}.\n\n{closing}") == f"{NEWEST}."


@pytest.mark.parametrize(
    "line",
    [
        "My mobile is 07700 900 123 if you need to block the stolen card",
        "My phone number is 07700 900123 and since yesterday someone else gets my texts",
        "The number is 0800 123 4567",  # the caller's, in a scam
        "Number: 12345678",
        "The number is 1000.00",
    ],
)
def test_a_number_that_is_part_of_the_problem_is_not_a_call_back_number(line: str) -> None:
    assert newest_message(f"{NEWEST}.\n{line}") == f"{NEWEST}.\n{line}"


def test_a_listed_item_under_a_colon_is_not_a_dash_signed_name() -> None:
    assert (
        newest_message("I do not recognise this one:\n- Amazon") == "I do not recognise this one:\n- Amazon"
    )


def test_a_forward_that_opens_with_its_header_is_read_not_the_older_message_under_it() -> None:
    text = (
        f"{OUTLOOK_HEADER}\n\nHi all,\n\n{NEWEST}\n\nThanks!\nJane\n\n________________________________\n"
        f"{OUTLOOK_HEADER}\n\nHi there,\n\n{OLD}\n\nThanks\nJane"
    )
    assert normalise_email("FW: card", text).message == NEWEST


@pytest.mark.parametrize("detail", ["· Account 12345678", "2. Card ending 4471", "Customer no. 82484340"])
def test_a_detail_without_a_colon_is_dropped_when_its_value_is_a_number(detail: str) -> None:
    assert newest_message(f"{NEWEST}.\n{detail}") == f"{NEWEST}."
    assert newest_message(f"{NEWEST}.\nCard ending 4471 was used in Spain") == (
        f"{NEWEST}.\nCard ending 4471 was used in Spain"
    )


# --- session 8 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "From: Acme Bank\nSent: Monday\nTo: Jane\nSubject: Your statement",
        "Von: Acme Bank\nGesendet: Montag\nAn: Jane\nBetreff: Ihr Kontoauszug",
        "*From:* Acme Bank\n*Date:* yesterday\n*Subject:* Your statement",
    ],
    ids=["english", "german", "bold labels"],
)
def test_a_quoted_header_block_without_an_address_or_a_date_is_history(header: str) -> None:
    # sender, sending time and subject: a mail client's block, even when no value is an address or a date
    assert newest_message(f"{NEWEST}.\n\n{header}\n\n{OLD}.") == f"{NEWEST}."
    # a customer's own "From: / To:" detail lines stay (no sending time, no subject)
    detail = "From: my current account\nTo: my savings account\nAmount: 500"
    assert OLD in newest_message(f"{detail}\n\n{OLD}.")


@pytest.mark.parametrize(
    "opening",
    [
        "Thanks for getting back to me so quickly.",
        "Thanks for the update.",
        "Thank you for your reply,",
        "Many thanks for the quick response.",
        "Thanks Ryan,",
        "Thank you, that's really helpful.",
        "Thanks - all sorted on that front.",
        "Appreciate the reply.",
        "Thanks for sorting that out. Sorry to bother you again.",
        "Hi Ryan,\n\nThanks for your help last time.\n\nHope you had a good weekend.",
    ],
)
def test_thanks_for_the_banks_last_reply_is_not_the_customers_message(opening: str) -> None:
    assert newest_message(f"{opening}\n\n{NEWEST}\n\nJane") == NEWEST
    assert newest_message(f"{opening} {NEWEST}") == NEWEST


@pytest.mark.parametrize(
    "sentence",
    [
        "Thanks for blocking my card, but someone has used it again today",
        "Thanks for your help with the stolen card, but there is a new payment I did not make",
        "Thanks, my other card was stolen too",
    ],
)
def test_thanks_that_carries_the_problem_stays(sentence: str) -> None:
    assert tokenize(newest_message(f"{sentence}\n\nJane")) == tokenize(sentence)


def test_thanks_under_the_customers_first_words_stays() -> None:
    body = f"{NEWEST}.\nThanks for the update, the second card has gone too"
    assert tokenize(newest_message(body)) == tokenize(body)


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        (
            "Sorry to bother you again. Hope you are well, but my card was stolen.\nCan you help?",
            "my card was stolen",
        ),
        (
            "My card was stolen.\nSorry to bother you. Hope you are well, but it was used again.",
            "it was used again",
        ),
        (
            "Thanks for the update. Hope you are well, but the thief used it again.\nWhat do I do?",
            "the thief used it",
        ),
        ("Thanks, fraud!", "fraud"),
        ("Thanks, no.", "no"),
        ("Thanks for the update.\nRe: the 500 pound payment, I did not make it.", "I did not make it"),
    ],
)
def test_an_opening_pleasantry_never_takes_the_customers_words_with_it(body: str, kept: str) -> None:
    assert set(tokenize(kept)) <= set(tokenize(newest_message(f"{body}\n\nJane")))


def test_thanks_alone_above_a_signature_does_not_make_the_signature_the_message() -> None:
    body = "Thanks for the update.\n\nJane Smith\nFraud Prevention Officer\nAcme Ltd"
    assert "fraud" not in newest_message(body).lower()


@pytest.mark.parametrize(
    "opening",
    [
        "Thank you Ryan for your quick reply.",
        "Thanks Ryan, for the quick reply.",
        "Thanks Ryan for getting back to me.",
    ],
)
def test_thanks_that_names_the_agent_before_what_it_thanks_for_opens_the_message(opening: str) -> None:
    assert newest_message(f"{opening} {NEWEST}") == NEWEST


@pytest.mark.parametrize("blank", ["\n", " ", "\x1c", "\x85", "\u2028"])
def test_blank_padding_above_the_message_does_not_push_it_past_the_cut(blank: str) -> None:
    padding = blank * (MAX_HTML_CHARS + 1000)
    assert normalise_email("", padding + NEWEST, "").message == NEWEST
    assert normalise_email("", "", f"{padding}<p>{NEWEST}</p>").message == NEWEST
