"""Park media: where flow control keeps events it does not store at once (base.py says what they promise)."""
