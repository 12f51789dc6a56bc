# Stand-in for the official nginx image: Debian's nginx and the official entrypoint's template
# step (/etc/nginx/templates/*.template through envsubst into NGINX_ENVSUBST_OUTPUT_DIR).
FROM emsync-local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx gettext-base curl \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/*
COPY nginx-entrypoint.sh /docker-entrypoint.sh
ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["nginx", "-g", "daemon off;"]
