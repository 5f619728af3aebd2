"""Configuration: `load_config()` reads `config.yaml` and the environment once."""

from controller.config.load import config_path, load_config, masked
from controller.config.model import (
    BrokerConfig,
    Config,
    EmbeddedBrokerConfig,
    HealthConfig,
    HttpConfig,
    LoggingConfig,
    ReconnectConfig,
    StoreConfig,
    TlsConfig,
)

__all__ = [
    "BrokerConfig",
    "Config",
    "EmbeddedBrokerConfig",
    "HealthConfig",
    "HttpConfig",
    "LoggingConfig",
    "ReconnectConfig",
    "StoreConfig",
    "TlsConfig",
    "config_path",
    "load_config",
    "masked",
]
