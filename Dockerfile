FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY fakerek ./fakerek
COPY models ./models
RUN pip install --no-cache-dir . && useradd --create-home fakerek && mkdir /data \
    && chown fakerek /data

USER fakerek
# Bound to every address, fakerek answers requests by any IP address and by loopback names. Other
# containers that reach it by a name (a Compose service name, say) need that name allowed:
#   docker run -e FAKEREK_ALLOWED_HOSTS=fakerek ...   (README: Security)
ENV FAKEREK_HOST=0.0.0.0 \
    FAKEREK_PORT=4567 \
    FAKEREK_DATA_DIR=/data \
    FAKEREK_ALLOWED_HOSTS=
VOLUME /data
EXPOSE 4567
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:4567/_fakerek/health', timeout=2); sys.exit(0)"
STOPSIGNAL SIGTERM
CMD ["fakerek", "serve"]
