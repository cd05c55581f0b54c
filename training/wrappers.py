"""Synthetic email wrappers: turn a short intent query into a realistic customer email.

Two disjoint template families: ``TRAIN`` teaches the model email shapes, ``EVAL`` (other greetings, names,
sign-offs, fillers, disclaimers, quote headers, HTML layouts) measures how it copes with shapes it never saw.
Quoted history carries *another* query (urgent or not) so the model and the normaliser are tested on the trap
of scoring an old quoted email instead of the newest message. An email's label is its newest query's label.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class EmailParts:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class WrapperFamily:
    name: str
    greetings: tuple[str, ...]
    pleasantries: tuple[str, ...]
    fillers_before: tuple[str, ...]
    fillers_after: tuple[str, ...]
    sign_offs: tuple[str, ...]
    names: tuple[str, ...]
    signature_extras: tuple[str, ...]
    sent_from: tuple[str, ...]
    disclaimers: tuple[str, ...]
    subjects: tuple[str, ...]
    quote_headers: tuple[str, ...]  # "{date}", "{name}", "{email}" are filled in
    outlook_headers: tuple[str, ...]
    dates: tuple[str, ...]
    html_layouts: tuple[str, ...]  # "{body}" and "{quote}" are filled in


TRAIN = WrapperFamily(
    name="train",
    greetings=(
        "Hi,",
        "Hello,",
        "Hi there,",
        "Dear Sir or Madam,",
        "Hello team,",
        "Hi support,",
        "Dear team,",
        "Good morning,",
        "Hey,",
        "Hi {first},",
    ),
    pleasantries=("I hope this email finds you well.", "Hope you are well.", ""),
    fillers_before=(
        "",
        "",
        "",
        "",
        "I am a customer of yours.",
        "I have a question about my account.",
        "I'm writing regarding my account.",
        "Quick question for you.",
        "I need some help please.",
        "I have been with your bank for a long time.",
        "I tried calling but nobody picked up.",
        "I couldn't find the answer on your website.",
        "My name is on the account below.",
        "Apologies for the long email.",
        "I spoke to someone yesterday about this.",
        "I'm not sure who else to ask.",
        "I hope you can sort this out.",
        "I am travelling at the moment.",
        "This is my second email about this.",
        "I use your app every day.",
        # everyday mentions of phones, apps and cards: context, not the ask (real emails are full of them)
        "I usually do my banking on my phone.",
        "I switched to a new phone last month.",
        "My son helped me install the app.",
        "I've got the app on my tablet as well.",
        "I use my card for almost everything.",
        "I checked online banking this morning.",
        "Things have been hectic since we moved house.",
        "My wife usually handles this side of things.",
    ),
    fillers_after=(
        "",
        "",
        "",
        "",
        "Please advise.",
        "Could you please help?",
        "Please let me know.",
        "I would appreciate a quick reply.",
        "Let me know if you need anything else from me.",
        "Please get back to me as soon as possible.",
        "My customer number is 0000000.",
        "I have attached a screenshot.",
        "I'm available all afternoon.",
        "You can call me on my mobile.",
        "I look forward to your answer.",
        "Thank you for your time.",
        "I'd rather not go into a branch.",
        "It has been a long week.",
        "Your app is great otherwise.",
        "Please reply to this address.",
        "You can text me on my mobile if that's easier.",
        "My phone number hasn't changed.",
        "I tried the app first but couldn't find the option.",
        "I'm writing from my work laptop.",
        "Sorry if this is a silly question.",
        "I've been with you since my student days.",
        "The app has been working fine otherwise.",
        "I'm normally able to sort things out myself.",
    ),
    sign_offs=(
        "Thanks,",
        "Thank you,",
        "Regards,",
        "Kind regards,",
        "Best regards,",
        "Many thanks,",
        "Best,",
        "Cheers,",
        "Thanks in advance,",
        "Sincerely,",
    ),
    names=(
        "John Smith",
        "Maria Garcia",
        "Wei Chen",
        "Aisha Khan",
        "Tom Becker",
        "Sophie Martin",
        "Liam O'Brien",
        "Priya Patel",
        "Lukas Novak",
        "Emma Wilson",
    ),
    signature_extras=(
        "",
        "",
        "Account Manager | Acme Ltd",
        "Mobile: +44 7700 900123",
        "Tel. 555-0134",
        "Senior Analyst\nGlobex Corporation",
        "www.example.com",
    ),
    sent_from=("", "", "", "Sent from my iPhone", "Sent from my Android phone", "Get Outlook for iOS"),
    disclaimers=(
        "",
        "",
        "",
        "CONFIDENTIALITY NOTICE: This email and any attachments are confidential and intended solely "
        "for the addressee. If you have received this email in error please notify the sender.",
        "This message is intended only for the named recipient. Unauthorised use is prohibited.",
    ),
    subjects=(
        "",
        "Question",
        "Help needed",
        "My account",
        "Urgent",
        "Query about my card",
        "Problem",
        "Re: your message",
        "Customer enquiry",
        "Issue with my bank",
        "Fwd: support",
        "Important",
    ),
    quote_headers=("On {date}, {name} <{email}> wrote:", "On {date} {name} wrote:"),
    outlook_headers=(
        "-----Original Message-----\nFrom: {name} <{email}>\nSent: {date}\nTo: Support\nSubject: {subject}",
    ),
    dates=("Mon, 3 Jun 2024 at 10:02", "Tuesday, March 5, 2024 9:14 AM", "12/01/2024 16:45"),
    html_layouts=(
        "<html><body>{body}{quote}</body></html>",
        '<html><head><style>p {{margin:0}}</style></head><body><div dir="ltr">{body}</div>'
        "{quote}</body></html>",
    ),
)

EVAL = WrapperFamily(
    name="eval",
    greetings=(
        "Good afternoon,",
        "Hello there,",
        "Dear Support Team,",
        "Hiya,",
        "Greetings,",
        "To whom it may concern,",
        "Dear {first},",
        "Hi all,",
        "Good evening,",
    ),
    pleasantries=("I hope you're doing well.", "Hope this message finds you well.", ""),
    fillers_before=(
        "",
        "",
        "",
        "I've been a member for years.",
        "Writing to you about something.",
        "This is about my banking.",
        "Sorry to bother you.",
        "I'm emailing because the chat was closed.",
    ),
    fillers_after=(
        "",
        "",
        "",
        "Thanks for looking into this.",
        "Any help would be great.",
        "Hoping to hear back soon.",
        "I can be reached on this address.",
        "Waiting for your response.",
        "My reference is in the subject line.",
        "I'm on holiday next week.",
    ),
    sign_offs=(
        "Warm regards,",
        "All the best,",
        "Many thanks in advance,",
        "Yours sincerely,",
        "Thank you!",
        "Best wishes,",
        "Yours faithfully,",
        "Take care,",
        "Thanks so much,",
    ),
    names=(
        "Olivia Brown",
        "Carlos Ruiz",
        "Hana Suzuki",
        "Omar Haddad",
        "Grace Lee",
        "Noah Fischer",
        "Chloe Dubois",
        "Arjun Mehta",
        "Ingrid Larsen",
    ),
    signature_extras=(
        "",
        "",
        "Director of Operations\nInitech Inc.",
        "Ph: (555) 010-9988",
        "LinkedIn: linkedin.com/in/someone",
        "123 Main Street, Springfield",
    ),
    sent_from=(
        "",
        "",
        "",
        "Sent from my iPad",
        "Sent from Yahoo Mail on Android",
        "Sent from Mail for Windows",
    ),
    disclaimers=(
        "",
        "",
        "",
        "DISCLAIMER: The information in this message is confidential and may be privileged. If you "
        "are not the intended recipient, please delete it.",
        "Please consider the environment before printing this email.",
    ),
    subjects=(
        "",
        "Need assistance",
        "Hello",
        "RE: RE: Account",
        "FW: question",
        "Please help",
        "[EXT] Card",
        "Follow up",
        "Enquiry",
        "Banking issue",
    ),
    quote_headers=("On {date} at 14:32, {name} ({email}) wrote:", "On {date}, at 08:00, {name} wrote:"),
    outlook_headers=(
        "________________________________\nFrom: {name} <{email}>\nSent: {date}\n"
        "To: Customer Care <care@bank.example>\nSubject: {subject}",
        "---------- Forwarded message ---------\nFrom: {name} <{email}>\nDate: {date}\n"
        "Subject: {subject}\nTo: <help@bank.example>",
    ),
    dates=("Fri, 14 Feb 2025", "Wednesday, 9 October 2024", "2024-11-30"),
    html_layouts=(
        "<!DOCTYPE html><html><body><table><tr><td>{body}</td></tr></table>{quote}</body></html>",
        '<div style="font-family:Arial">{body}<br><br>{quote}</div>',
    ),
)


def _sentence(query: str, rng: random.Random) -> str:
    text = query.strip()
    if rng.random() < 0.5:
        text = text[:1].upper() + text[1:]
    if text and text[-1] not in ".?!" and rng.random() < 0.6:
        text += rng.choice(("?", ".", "!"))
    return text


def _email_address(name: str) -> str:
    return name.lower().replace(" ", ".").replace("'", "") + "@example.com"


def wrap_query(query: str, quoted_query: str | None, family: WrapperFamily, rng: random.Random) -> EmailParts:
    """Wrap ``query`` (the customer's newest words) in an email; ``quoted_query`` becomes quoted history."""
    name = rng.choice(family.names)
    first = rng.choice(family.names).split()[0]
    greeting = rng.choice(family.greetings).format(first=first)
    body_lines = [greeting, ""] if rng.random() < 0.85 else []
    pleasantry = rng.choice(family.pleasantries)
    opening = " ".join(part for part in (pleasantry, rng.choice(family.fillers_before)) if part)
    if opening:
        body_lines += [opening] if rng.random() < 0.5 else [opening, ""]
    body_lines.append(_sentence(query, rng))
    closing = rng.choice(family.fillers_after)
    if closing:
        body_lines += ["", closing]
    if rng.random() < 0.8:
        body_lines += ["", rng.choice(family.sign_offs), name]
        extra = rng.choice(family.signature_extras)
        if extra:
            body_lines.append(extra)
    elif rng.random() < 0.5:
        body_lines += ["", "-- ", name]
    sent_from = rng.choice(family.sent_from)
    if sent_from:
        body_lines += ["", sent_from]
    disclaimer = rng.choice(family.disclaimers)
    if disclaimer:
        body_lines += ["", disclaimer]

    subject = rng.choice(family.subjects)
    if rng.random() < 0.15:  # some customers put the gist in the subject
        subject = " ".join(query.split()[: rng.randint(2, 5)])

    quote_lines: list[str] = []
    if quoted_query is not None:
        date = rng.choice(family.dates)
        other = rng.choice(family.names)
        if rng.random() < 0.5:
            header = rng.choice(family.quote_headers).format(
                date=date, name=other, email=_email_address(other)
            )
            quote_lines = [header, *("> " + line for line in (_sentence(quoted_query, rng), "", other))]
        else:
            header = rng.choice(family.outlook_headers).format(
                date=date,
                name=other,
                email=_email_address(other),
                subject=rng.choice(family.subjects) or "Hi",
            )
            quote_lines = [*header.split("\n"), "", _sentence(quoted_query, rng), "", other]

    as_html = rng.random() < 0.35
    if not as_html:
        text = "\n".join([*body_lines, *(["", *quote_lines] if quote_lines else [])])
        return EmailParts(subject=subject, text=text, html="")
    body_html = "".join(f"<p>{html.escape(line)}</p>" if line else "<br>" for line in body_lines)
    quote_html = ""
    if quote_lines:
        inner = "<br>".join(html.escape(line.removeprefix("> ")) for line in quote_lines[1:])
        quote_html = (
            f'<div class="gmail_quote"><div>{html.escape(quote_lines[0])}</div>'
            f'<blockquote class="gmail_quote">{inner}</blockquote></div>'
        )
    layout = rng.choice(family.html_layouts)
    return EmailParts(subject=subject, text="", html=layout.format(body=body_html, quote=quote_html))
