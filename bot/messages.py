"""Every customer-visible string, kept in one place so it can be reviewed and translated."""

GREETING = "Hi! I'm the support assistant. How can I help you today?"

FALLBACK = "Sorry, I didn't quite get that. Could you rephrase it?"

CLARIFY = "Did you mean one of these?"

ERROR_APOLOGY = (
    "Sorry, something went wrong on our side and I couldn't answer that. "
    "Would you like me to connect you with a human agent?"
)

HANDOFF_OFFER = "Talk to a human"

HANDOFF_CONFIRMED = "Thanks, I'm passing you to a member of our team. They'll be with you shortly."

EMPTY_MESSAGE = "It looks like your message was empty. What can I help you with?"

MESSAGE_TOO_LONG = (
    "Sorry, that message is a bit long for me. "
    "Could you shorten it to under {max_chars} characters?"
)

ABUSE_WARNING = (
    "I understand this is frustrating, and I want to help. "
    "Let's keep things respectful so we can sort this out together."
)

RATE_LIMITED = "You're sending messages a little fast. Please wait a moment and try again."

RETRIEVAL_PREFIX = "From our help centre ({title}):"

CITATION = "Source: {title}"
