# Stand-in for the official postgres image: Debian's PostgreSQL 15 and the part of the official
# entrypoint compose.yaml relies on (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE, PGDATA).
FROM emsync-local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /var/lib/postgresql/15/main
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
