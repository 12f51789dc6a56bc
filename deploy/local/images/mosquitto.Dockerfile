# Stand-in for the official eclipse-mosquitto image (which has the clients too): Debian's
# Mosquitto 2.0.11.
FROM emsync-local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends mosquitto mosquitto-clients \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o mosquitto -g mosquitto /mosquitto/data
CMD ["mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
