"""The local development stack: emulators and both services as background processes (`make up`)."""
