"""The vocabulary of the cloud-gaming reference domain: games, regions, devices, log messages."""

from __future__ import annotations

GAMES = (
    "cyberpunk-2077",
    "fortnite",
    "baldurs-gate-3",
    "counter-strike-2",
    "genshin-impact",
    "rocket-league",
    "destiny-2",
    "apex-legends",
)
REGIONS = ("us-east", "us-west", "eu-central", "eu-west", "ap-northeast", "ap-southeast")
PLATFORMS = ("windows", "macos", "android", "ios", "chromeos", "android-tv", "linux")
DEVICES = {
    "windows": ("Dell XPS 15", "Lenovo Legion 5", "Surface Laptop 5"),
    "macos": ("MacBookPro18,3", "MacBookAir10,1", "Macmini9,1"),
    "android": ("Pixel 8", "Galaxy S24", "OnePlus 12"),
    "ios": ("iPhone15,2", "iPhone16,1", "iPad13,4"),
    "chromeos": ("Chromebook Plus 14", "Pixelbook Go"),
    "android-tv": ("SHIELD Android TV", "Chromecast with Google TV"),
    "linux": ("Steam Deck", "ThinkPad X1 Carbon"),
}
OS_VERSIONS = {
    "windows": ("10.0.19045", "10.0.22631"),
    "macos": ("14.5", "15.1"),
    "android": ("14", "15"),
    "ios": ("17.5", "18.1"),
    "chromeos": ("126.0.6478", "130.0.6723"),
    "android-tv": ("11", "12"),
    "linux": ("6.5.0", "6.8.0"),
}
RESOLUTIONS = ("720p", "1080p", "1440p", "4k")
FRAME_RATES = (30.0, 60.0, 60.0, 120.0)
TIERS = ("free", "priority", "ultimate")
END_REASONS = ("user_quit", "idle_timeout", "network_error", "server_maintenance", "client_crash")
END_REASON_WEIGHTS = (60, 15, 10, 5, 10)
CRASH_REASON = "client_crash"

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
LEVEL_WEIGHTS = (30, 50, 13, 7)
MESSAGES = {
    "DEBUG": ("decoder queue depth {n}", "frame pacing adjusted by {n} us", "input latency sample {n} ms"),
    "INFO": ("stream connected", "controller attached", "resolution changed", "audio device selected"),
    "WARN": ("packet loss above threshold", "decoder fell behind by {n} frames", "network jitter {n} ms"),
    "ERROR": ("decoder error 0x{n:04x}", "lost connection to stream, reconnecting", "audio device unavailable"),
}
CRASH_MESSAGE = "client crashed: signal {n}"
