"""Customer notifications: rules decide who hears what on which channel; a plan per change; the
`send_notification` job renders (`templates/`) and sends (`channels/`) at most once, with quiet
hours, burst collapse, opt-out, retries and fallback; provider callbacks and inbound SMS."""
