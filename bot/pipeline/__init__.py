"""The platform-neutral turn pipeline: from an incoming message to a delivered, recorded reply."""
