"""A certificate as a one-page PDF: DejaVu Sans embedded (Cyrillic), a QR code to verify it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
NAVY = Color(0.06, 0.2, 0.45)
GREY = Color(0.35, 0.35, 0.35)


@dataclass(frozen=True)
class CertificateText:
    """Every line of the certificate, already in the holder's language."""

    heading: str  # CERTIFICATE
    number: str  # No. AMU-2025-00001
    certifies: str  # This is to certify that
    full_name: str
    council: str
    completed: str  # has completed the training
    title: str
    details: str  # seminar, 9–10 December 2025, 16 hours
    issued: str  # Issued on 10 December 2025
    verify: str  # Verification code: ABCD..., scan the QR code or open the link
    link: str  # https://t.me/<bot>?start=verify-CODE
    issuer: str  # Association of Ukrainian Cities


@cache
def _fonts() -> None:
    """Register the shipped DejaVu Sans once per process (parsing a TTF takes a while)."""
    folder = resources.files("bot") / "fonts"
    for name, file in ((REGULAR, "DejaVuSans.ttf"), (BOLD, "DejaVuSans-Bold.ttf")):
        with resources.as_file(folder / file) as path:
            pdfmetrics.registerFont(TTFont(name, str(path)))


def _centred(canvas: Canvas, text: str, y: float, font: str, size: float, width: float) -> float:
    """Draw `text` centred, wrapped to `width`; returns the y below it."""
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if line and pdfmetrics.stringWidth(trial, font, size) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    canvas.setFont(font, size)
    page_width = landscape(A4)[0]
    for text_line in lines:
        canvas.drawCentredString(page_width / 2, y, text_line)
        y -= size * 1.3
    return y


def render(text: CertificateText) -> bytes:
    """The PDF bytes of one certificate."""
    _fonts()
    buf = io.BytesIO()
    width, height = landscape(A4)
    canvas = Canvas(buf, pagesize=(width, height), pageCompression=1)
    canvas.setTitle(f"{text.heading} {text.number}")
    canvas.setAuthor(text.issuer)
    canvas.setStrokeColor(NAVY)
    canvas.setLineWidth(3)
    canvas.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    canvas.setLineWidth(0.8)
    canvas.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)
    text_width = width - 70 * mm
    canvas.setFillColor(NAVY)
    y = _centred(canvas, text.issuer, height - 32 * mm, BOLD, 13, text_width)
    y = _centred(canvas, text.heading, y - 8 * mm, BOLD, 34, text_width)
    canvas.setFillColor(GREY)
    y = _centred(canvas, text.number, y - 1 * mm, REGULAR, 12, text_width)
    canvas.setFillColor(Color(0, 0, 0))
    y = _centred(canvas, text.certifies, y - 6 * mm, REGULAR, 13, text_width)
    y = _centred(canvas, text.full_name, y - 3 * mm, BOLD, 24, text_width)
    y = _centred(canvas, text.council, y - 1 * mm, REGULAR, 13, text_width)
    y = _centred(canvas, text.completed, y - 5 * mm, REGULAR, 13, text_width)
    y = _centred(canvas, text.title, y - 2 * mm, BOLD, 16, text_width)
    y = _centred(canvas, text.details, y - 2 * mm, REGULAR, 13, text_width)

    # The QR code, bottom right, opens the bot with the verification code.
    size = 34 * mm
    qr = QrCodeWidget(text.link, barLevel="M")
    x0, y0, x1, y1 = qr.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, canvas, width - 22 * mm - size, 22 * mm)
    canvas.setFont(REGULAR, 10)
    canvas.setFillColor(GREY)
    canvas.drawString(24 * mm, 34 * mm, text.issued)
    canvas.drawString(24 * mm, 28 * mm, text.verify)
    canvas.drawString(24 * mm, 22 * mm, text.link)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()
