"""Discord's protocol numbers and documented limits, each beside the page of Discord's docs that
defines it: the service, `coach-plans send` and the tests all take them from here."""

from __future__ import annotations

from typing import Final

# The library ships no type information (pyproject's mypy section says so); its classes hold
# plain ints.
from discord_interactions import (
    InteractionResponseFlags,
    InteractionResponseType,
    InteractionType,
)

from app import defaults

# --- hosts ---------------------------------------------------------------------------------------

# https://discord.com/developers/docs/reference#api-versioning
API_BASE_URL: Final = defaults.DISCORD_API_BASE_URL  # the settings' default too
API_HOST: Final = "discord.com"
# Where attachments are served from (https://discord.com/developers/docs/reference#image-formatting-image-base-url).
CDN: Final = "https://cdn.discordapp.com"
MEDIA: Final = "https://media.discordapp.net"
CDN_HOSTS: Final = ("cdn.discordapp.com", "media.discordapp.net")

# Ids are snowflakes: milliseconds since Discord's epoch, shifted left 22 bits, then worker,
# process and increment (https://discord.com/developers/docs/reference#snowflakes).
EPOCH_MS: Final = 1420070400000

# --- receiving interactions ----------------------------------------------------------------------

# Request signatures (https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers).
SIGNATURE_HEADER: Final = "X-Signature-Ed25519"
TIMESTAMP_HEADER: Final = "X-Signature-Timestamp"

# Interaction types (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-type).
# Discord's own library names the protocol's numbers.
PING: Final[int] = InteractionType.PING
APPLICATION_COMMAND: Final[int] = InteractionType.APPLICATION_COMMAND
MESSAGE_COMPONENT: Final[int] = InteractionType.MESSAGE_COMPONENT
AUTOCOMPLETE: Final[int] = InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE
MODAL_SUBMIT: Final[int] = InteractionType.MODAL_SUBMIT

# Interaction context types (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-context-types).
GUILD_CONTEXT: Final = 0  # a guild channel
BOT_DM_CONTEXT: Final = 1  # the bot's DM with the user
# Application integration types (https://discord.com/developers/docs/resources/application#application-object-application-integration-types).
GUILD_INSTALL: Final = 0
USER_INSTALL: Final = 1

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types).
GUILD_TEXT: Final = 0
GUILD_ANNOUNCEMENT: Final = 5
DM: Final = 1

# Permission bits (https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags).
ADMINISTRATOR: Final = 1 << 3
MANAGE_GUILD: Final = 1 << 5  # "Manage Server"
MANAGE_MESSAGES: Final = 1 << 13

# An interaction's token answers for 15 minutes, so Discord never redelivers one later than that
# (https://discord.com/developers/docs/interactions/receiving-and-responding#responding-to-an-interaction).
TOKEN_LIFETIME_SECONDS: Final = 15 * 60

# --- responding ----------------------------------------------------------------------------------

# Interaction callback types (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-interaction-callback-type).
PONG: Final[int] = InteractionResponseType.PONG
CHANNEL_MESSAGE: Final[int] = InteractionResponseType.CHANNEL_MESSAGE_WITH_SOURCE
DEFERRED_CHANNEL_MESSAGE: Final[int] = InteractionResponseType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
DEFERRED_UPDATE_MESSAGE: Final[int] = InteractionResponseType.DEFERRED_UPDATE_MESSAGE
UPDATE_MESSAGE: Final[int] = InteractionResponseType.UPDATE_MESSAGE
AUTOCOMPLETE_RESULT: Final[int] = InteractionResponseType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
MODAL: Final[int] = InteractionResponseType.MODAL

# Message flags (https://discord.com/developers/docs/resources/message#message-object-message-flags).
EPHEMERAL: Final[int] = InteractionResponseFlags.EPHEMERAL
# Layout components instead of content and embeds; once set, never removed from the message
# (https://discord.com/developers/docs/components/reference#component-reference).
IS_COMPONENTS_V2: Final = 1 << 15

# Component types (https://discord.com/developers/docs/components/reference#component-object-component-types).
ACTION_ROW: Final = 1
BUTTON: Final = 2
TEXT_INPUT: Final = 4
SECTION: Final = 9
TEXT_DISPLAY: Final = 10
THUMBNAIL: Final = 11
MEDIA_GALLERY: Final = 12
FILE: Final = 13
SEPARATOR: Final = 14
CONTAINER: Final = 17
# Button styles (https://discord.com/developers/docs/components/reference#button-button-styles).
PRIMARY, SECONDARY, SUCCESS, DANGER, LINK = 1, 2, 3, 4, 5
# Text input styles (https://discord.com/developers/docs/components/reference#text-input-text-input-styles).
SHORT, PARAGRAPH = 1, 2

# --- application commands ------------------------------------------------------------------------

# Application command types (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-types).
CHAT_INPUT: Final = 1
# Option types (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-type).
SUB_COMMAND, STRING, INTEGER, BOOLEAN, USER, ROLE = 1, 3, 4, 5, 6, 8
NUMBER, ATTACHMENT = 10, 11
CHANNEL_OPTION: Final = 7  # a channel option (CHANNEL names the interaction's own channel)

# --- documented limits ---------------------------------------------------------------------------

# Message content (https://discord.com/developers/docs/resources/message#create-message-jsonform-params).
CONTENT_MAX: Final = 2000
# Components V2 messages (https://discord.com/developers/docs/components/reference): 40
# components in all, nested ones counted; 4000 characters of text across all Text Displays; a
# Media Gallery holds 1 to 10 items, each with alt text of up to 1024 characters.
COMPONENTS_MAX: Final = 40
TEXT_DISPLAY_TOTAL_MAX: Final = 4000
GALLERY_ITEMS_MAX: Final = 10
MEDIA_DESCRIPTION_MAX: Final = 1024
BUTTON_LABEL_MAX: Final = 80
# Uploads (https://discord.com/developers/docs/reference#uploading-files): at most 10 files a
# message, each within the default upload limit of 10 MiB (checked per file).
ATTACHMENTS_MAX: Final = 10
UPLOAD_MAX_BYTES: Final = 10 * 1024 * 1024
# Autocomplete (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-choice-structure).
CHOICES_MAX: Final = 25
CHOICE_MAX: Final = 100  # a choice's name, and a string choice's value
# Components (https://discord.com/developers/docs/components/reference#anatomy-of-a-component-custom-id).
CUSTOM_ID_MAX: Final = 100
# Modals and text inputs (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-modal,
# https://discord.com/developers/docs/components/reference#text-input).
MODAL_TITLE_MAX: Final = 45
TEXT_INPUT_LABEL_MAX: Final = 45
TEXT_INPUT_MAX: Final = 4000
TEXT_INPUT_PLACEHOLDER_MAX: Final = 100
MODAL_INPUTS_MAX: Final = 5
# Channel names (https://discord.com/developers/docs/resources/channel#channel-object-channel-structure);
# user names are shorter.
CHANNEL_NAME_MAX: Final = 100

# JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes).
UNKNOWN_MESSAGE: Final = 10008
UNKNOWN_WEBHOOK: Final = 10015
