"""fakerek: a local emulator and test double for Amazon Rekognition Custom Labels."""

__version__ = "0.1.0"
