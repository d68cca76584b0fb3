"""regcode: regulations as versioned YAML policies. The code lives in engine/ and cli/ (mapped to regcode.engine, regcode.cli)."""
