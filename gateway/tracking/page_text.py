"""The customer pages' words in each supported language, and locale-aware date formatting.

A language is added by one entry in TEXT with every key of `en` (a test checks the keys match).
Dates and times come from CLDR through Babel, in the recipient's own locale when its language is
supported (es-MX gets "3:27 p.m.", es-ES "15:27"), else in en-US so a page never mixes languages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, match_skeleton

DEFAULT_LOCALE: Final = "en-US"

_EN: Final[Mapping[str, str]] = {
    "title": "Track your parcel",
    "order_ref": "Order {order}",
    "status.pre_transit": "Your order is being prepared",
    "status.in_transit": "Your parcel is on its way",
    "status.out_for_delivery": "Your parcel is out for delivery",
    "status.failed_attempt": "We tried to deliver your parcel",
    "status.available_for_pickup": "Your parcel is ready for pickup",
    "status.delivered": "Your parcel was delivered",
    "status.exception": "Your parcel is delayed",
    "status.returned": "Your parcel is going back",
    "status.unknown": "Waiting for the first update",
    "badge.pre_transit": "Label created",
    "badge.in_transit": "In transit",
    "badge.out_for_delivery": "Out for delivery",
    "badge.failed_attempt": "Delivery attempted",
    "badge.available_for_pickup": "Ready for pickup",
    "badge.delivered": "Delivered",
    "badge.exception": "Delayed",
    "badge.returned": "Returned",
    "badge.unknown": "Pending",
    "sub.pre_transit": "The store is getting your parcel ready for the carrier.",
    "sub.in_transit": "Your parcel is moving through the carrier's network.",
    "sub.out_for_delivery": "Your parcel is on the delivery vehicle.",
    "sub.failed_attempt": "The carrier could not deliver your parcel and will try again.",
    "sub.available_for_pickup": "Your parcel is waiting for you at a pickup point.",
    "sub.exception": "Something held up your parcel. The carrier is on it.",
    "sub.returned": "The carrier is returning your parcel to the store.",
    "sub.unknown": "We will show the carrier's first scan here as soon as it arrives.",
    "eta.today": "Arriving today",
    "eta.date": "Expected {date}",
    "eta.by": "Expected by {date}, {time}",
    "eta.driver": "Your driver expects to arrive around {time}",
    "live.seen": "Your driver was seen {time}",
    "live.last_seen": "Your driver was last seen {time}",
    "live.away_seen": "Your driver is {distance} away · seen {time}",
    "live.away_last_seen": "Your driver was {distance} away · last seen {time}",
    "live.eta_soon": "Arriving in a few minutes",
    "live.eta_min": "Arriving in about {n} min",
    "live.eta_at": "Arriving around {time}",
    "live.gone": "This tracking link is no longer active.",
    "live.card": "Live tracking",
    "live.map": "Map: your driver and your address",
    "live.pill": "Live",
    "live.reconnecting": "Reconnecting",
    "live.seen_at": "Seen {time}",
    "live.last_seen_at": "Last seen {time}",
    "live.tiles_off": "Map tiles are unavailable right now; the pins still show where things are.",
    "live.driver": "Your driver",
    "live.destination": "Your address",
    "live.refresh": "Delivered! Show proof of delivery",
    "delivered.at": "{date} at {time}",
    "step.ordered": "Ordered",
    "step.shipped": "Shipped",
    "step.out_for_delivery": "Out for delivery",
    "step.delivered": "Delivered",
    "step.pickup": "Ready for pickup",
    "step.returned": "Returned",
    "progress": "Progress",
    "timeline": "Tracking history",
    "today": "Today",
    "yesterday": "Yesterday",
    "no_events": "No updates yet.",
    "proof": "Proof of delivery",
    "received_by": "Received by",
    "photo_alt": "Photo of the delivered parcel",
    "signature_alt": "Recipient's signature",
    "rate.title": "How was your delivery?",
    "rate.lead": "Your rating helps {store} improve every delivery.",
    "rate.score": "Your rating",
    "rate.stars": "{n} out of 5 stars",
    "rate.comment": "Anything to add? (optional)",
    "rate.submit": "Send rating",
    "rate.update": "Update rating",
    "rate.thanks": "Thank you for your rating!",
    "rate.yours": "You rated this delivery {n} out of 5.",
    "rate.editable": "You can change it until {date}, {time}.",
    "rate.invalid": "Please pick 1 to 5 stars.",
    "rate.locked": "This rating can no longer be changed.",
    "details": "Details",
    "tracking_number": "Tracking number",
    "carrier": "Carrier",
    "order": "Order",
    "updates_to": "Updates sent to",
    "not_found.title": "This tracking link is not available",
    "not_found.body": "The link may be mistyped, or it has expired. "
    "Use the newest message from the store, or contact the store for a new link.",
    "preview": "Follow your parcel from {store}.",
    "footer": "Tracking by Lastmile",
}

_ES: Final[Mapping[str, str]] = {
    "title": "Sigue tu paquete",
    "order_ref": "Pedido {order}",
    "status.pre_transit": "Estamos preparando tu pedido",
    "status.in_transit": "Tu paquete está en camino",
    "status.out_for_delivery": "Tu paquete está en reparto",
    "status.failed_attempt": "Intentamos entregar tu paquete",
    "status.available_for_pickup": "Tu paquete está listo para recoger",
    "status.delivered": "Tu paquete fue entregado",
    "status.exception": "Tu paquete está retrasado",
    "status.returned": "Tu paquete vuelve a la tienda",
    "status.unknown": "Esperando la primera novedad",
    "badge.pre_transit": "Etiqueta creada",
    "badge.in_transit": "En tránsito",
    "badge.out_for_delivery": "En reparto",
    "badge.failed_attempt": "Intento fallido",
    "badge.available_for_pickup": "Para recoger",
    "badge.delivered": "Entregado",
    "badge.exception": "Retrasado",
    "badge.returned": "Devuelto",
    "badge.unknown": "Pendiente",
    "sub.pre_transit": "La tienda está preparando tu paquete para el transportista.",
    "sub.in_transit": "Tu paquete avanza por la red del transportista.",
    "sub.out_for_delivery": "Tu paquete va en el vehículo de reparto.",
    "sub.failed_attempt": "El transportista no pudo entregar tu paquete y lo intentará de nuevo.",
    "sub.available_for_pickup": "Tu paquete te espera en un punto de recogida.",
    "sub.exception": "Algo ha retrasado tu paquete. El transportista se está ocupando.",
    "sub.returned": "El transportista devuelve tu paquete a la tienda.",
    "sub.unknown": "Aquí verás el primer escaneo del transportista en cuanto llegue.",
    "eta.today": "Llega hoy",
    "eta.date": "Llegada prevista: {date}",
    "eta.by": "Llegada prevista antes del {date}, {time}",
    "eta.driver": "Tu repartidor llegará hacia las {time}",
    "live.seen": "Tu repartidor fue visto a las {time}",
    "live.last_seen": "Tu repartidor fue visto por última vez a las {time}",
    "live.away_seen": "Tu repartidor está a {distance} · visto a las {time}",
    "live.away_last_seen": "Tu repartidor estaba a {distance} · visto por última vez a las {time}",
    "live.eta_soon": "Llega en unos minutos",
    "live.eta_min": "Llega en unos {n} min",
    "live.eta_at": "Llega hacia las {time}",
    "live.gone": "Este enlace de seguimiento ya no está activo.",
    "live.card": "Seguimiento en directo",
    "live.map": "Mapa: tu repartidor y tu dirección",
    "live.pill": "En directo",
    "live.reconnecting": "Reconectando",
    "live.seen_at": "Visto a las {time}",
    "live.last_seen_at": "Visto por última vez a las {time}",
    "live.tiles_off": "El mapa no está disponible ahora; "
    "los marcadores siguen mostrando dónde está todo.",
    "live.driver": "Tu repartidor",
    "live.destination": "Tu dirección",
    "live.refresh": "¡Entregado! Ver la prueba de entrega",
    "delivered.at": "{date} a las {time}",
    "step.ordered": "Pedido",
    "step.shipped": "Enviado",
    "step.out_for_delivery": "En reparto",
    "step.delivered": "Entregado",
    "step.pickup": "Para recoger",
    "step.returned": "Devuelto",
    "progress": "Progreso",
    "timeline": "Historial de seguimiento",
    "today": "Hoy",
    "yesterday": "Ayer",
    "no_events": "Todavía no hay novedades.",
    "proof": "Prueba de entrega",
    "received_by": "Recibido por",
    "photo_alt": "Foto del paquete entregado",
    "signature_alt": "Firma del destinatario",
    "rate.title": "¿Qué tal fue la entrega?",
    "rate.lead": "Tu valoración ayuda a {store} a mejorar cada entrega.",
    "rate.score": "Tu valoración",
    "rate.stars": "{n} de 5 estrellas",
    "rate.comment": "¿Algo que añadir? (opcional)",
    "rate.submit": "Enviar valoración",
    "rate.update": "Actualizar valoración",
    "rate.thanks": "¡Gracias por tu valoración!",
    "rate.yours": "Valoraste esta entrega con {n} de 5.",
    "rate.editable": "Puedes cambiarla hasta el {date}, {time}.",
    "rate.invalid": "Elige de 1 a 5 estrellas.",
    "rate.locked": "Esta valoración ya no se puede cambiar.",
    "details": "Detalles",
    "tracking_number": "Número de seguimiento",
    "carrier": "Transportista",
    "order": "Pedido",
    "updates_to": "Avisos enviados a",
    "not_found.title": "Este enlace de seguimiento no está disponible",
    "not_found.body": "Puede que el enlace esté mal escrito o haya caducado. "
    "Usa el mensaje más reciente de la tienda o pídele un enlace nuevo.",
    "preview": "Sigue tu paquete de {store}.",
    "footer": "Seguimiento por Lastmile",
}

TEXT: Final[Mapping[str, Mapping[str, str]]] = {"en": _EN, "es": _ES}


class PageLocale:
    """A supported language plus the CLDR locale its dates are written in."""

    def __init__(self, tag: str | None) -> None:
        babel_locale = _parse(tag or DEFAULT_LOCALE)
        if babel_locale is None or babel_locale.language not in TEXT:
            babel_locale = _parse(DEFAULT_LOCALE)
        assert babel_locale is not None  # noqa: S101 - the default always parses
        self.babel = babel_locale
        self.lang = babel_locale.language
        self.text = TEXT[self.lang]

    @property
    def tag(self) -> str:
        return str(self.babel).replace("_", "-")

    def t(self, key: str, **values: object) -> str:
        return self.text[key].format(**values) if values else self.text[key]

    def day(self, moment: datetime) -> str:
        """`Monday, March 16` / `lunes, 16 de marzo` (no year: a parcel's life is short)."""
        return format_datetime(moment, _day_pattern(self.babel), locale=self.babel)

    def time(self, moment: datetime) -> str:
        return format_datetime(moment, self.babel.time_formats["short"].pattern, locale=self.babel)


def supported(tag: str | None) -> bool:
    parsed = _parse(tag) if tag else None
    return parsed is not None and parsed.language in TEXT


def from_accept_language(header: str) -> str | None:
    """The first language of an Accept-Language header that the pages speak, if any."""
    for part in header.split(","):
        tag = part.split(";", 1)[0].strip()
        if tag and tag != "*" and supported(tag):
            return tag
    return None


@lru_cache(maxsize=256)
def _parse(tag: str) -> Locale | None:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


@lru_cache(maxsize=64)
def _day_pattern(locale: Locale) -> str:
    skeleton = match_skeleton("MMMMEd", locale.datetime_skeletons) or "MMMMEd"
    pattern = locale.datetime_skeletons.get(skeleton)
    text = pattern.pattern if pattern is not None else "EEEE, MMMM d"
    return re.sub(r"E+", "EEEE", text)  # the weekday spelled out
