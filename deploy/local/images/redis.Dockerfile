# Stand-in for the official redis image: Debian's Redis 7.
FROM emsync-local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
USER redis
CMD ["redis-server"]
