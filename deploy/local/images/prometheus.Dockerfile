# Stand-in for prom/prometheus: Debian's Prometheus 2.42 (and promtool, to check the rules).
FROM emsync-local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o prometheus -g prometheus /prometheus
USER prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
