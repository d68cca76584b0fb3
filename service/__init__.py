"""regcode's HTTP decision service (`regcode serve`): a second front-end beside the CLI, on the engine's public surface."""
