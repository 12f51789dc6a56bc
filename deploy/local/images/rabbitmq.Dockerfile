# Stand-in for the official rabbitmq image: Debian's RabbitMQ 3.10 (its server reads the same
# RABBITMQ_* variables and a rabbitmq.conf file; the compose file sets what it needs).
FROM emsync-local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends rabbitmq-server \
 && rm -rf /var/lib/apt/lists/*
USER rabbitmq
ENV HOME=/var/lib/rabbitmq
CMD ["rabbitmq-server"]
