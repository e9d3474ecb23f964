"""The wire: botocore's Rekognition model (`service_model`), input validation, output
serialisation, AWS's error classes, pagination tokens, the SigV4 scope, JSON decoding. It knows
nothing of fakerek's state."""
