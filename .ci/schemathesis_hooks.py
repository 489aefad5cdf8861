"""Schemathesis hooks for .ci/schemathesis.sh: teach it to send `audio/wav` bodies."""
import schemathesis


@schemathesis.serializer("audio/wav")
def audio_wav(ctx, value):
    """Generated binary strings become the raw request body."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode("utf-8")
