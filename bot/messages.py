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

RETRIEVAL_LINK = "More: {url}"

CITATION = "Source: {title}"

DEESCALATE = "I'm sorry this has been so frustrating. Let's get it sorted out."

REPEATED_MESSAGE = "I've got your message and I'm on it, so there's no need to send it again."

HANDOFF_THREAT = (
    "I'm going to stop here and pass this conversation to a member of our team, "
    "who will take it from here."
)

HANDOFF_ABUSE = (
    "I don't think I can help further in this conversation. "
    "Would you like me to pass you to a member of our team?"
)

HANDOFF_AFTER_FALLBACKS = (
    "I'm sorry, I'm not able to answer that. I'm passing you to a member of our team, "
    "who will pick this up here."
)

HANDOFF_RELEASED = "You're back with the assistant. Is there anything else I can help with?"

GOODBYE = "Thanks for getting in touch. Have a good day!"

BOT_IDENTITY = (
    "I'm the support assistant, a computer program. If you'd rather talk to a person, "
    'say "talk to a human".'
)

YOU_ARE_WELCOME = "You're welcome! Is there anything else I can help with?"

STILL_HERE = "Yes, I'm still here. What can I help you with?"

MENU = "Of course. Here are some things I can help with, or just tell me what's going on:"

MENU_HUMAN_BUTTON = "Talk to a person"

OPTION_UNAVAILABLE = (
    'Sorry, I can\'t do that from here right now. Tell me what you need, or say "talk to a human".'
)

FORM_CANCELLED = "No problem, I've stopped that. What else can I help with?"

FORM_INVALID = {
    "email": "That doesn't look like an email address.",
    "phone": "That doesn't look like a phone number; please include the country code.",
    "number": "I need a number for this.",
    "choice": "Please pick one of the options.",
    "pattern": "That isn't in the format I need.",
    "text": "That's a bit long for this.",
}

WEBCHAT_TITLE = "Support"

WEBCHAT_HANDOFF = "A colleague will join this conversation shortly."

HANDOFF_UNAVAILABLE = "Sorry, nobody from our team is available to chat right now."

HANDOFF_BUSY = "Sorry, everyone in our team is busy right now."

HANDOFF_HOURS = "We're here {hours}."

HANDOFF_ALTERNATIVE = "You can also reach us at {alternative}."

HANDOFF_BOT_CONTINUES = "In the meantime I'll keep trying to help: what can I do for you?"

HANDOFF_QUEUE_PLACE = 'You\'re number {place} in the queue. Say "never mind" to go back to the bot.'

HANDOFF_CANCELLED = "No problem, you're back with the assistant. What can I help with?"

HANDOFF_QUEUE_TIMEOUT = (
    "Sorry, nobody from our team could take your conversation in time. "
    "You're back with the assistant; you can ask for a person again later."
)

AGENT_JOINED = "{agent} joined the conversation"

AGENT_LEFT = "{agent} left the conversation"

SURVEY_QUESTION = "How did {agent} do? Reply with a number from 1 (poor) to 5 (great)."

SURVEY_THANKS = "Thanks for your feedback!"
