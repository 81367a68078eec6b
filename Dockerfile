# ocpp-mqtt in a container: configured through OCPP_MQTT_* variables (every option of
# `ocpp-mqtt serve`, see README "Configuration"), state in the /data volume.
#
#   docker build -t ocpp-mqtt .
#   docker run -p 9000:9000 -e OCPP_MQTT_MQTT=mqtt://broker:1883 ocpp-mqtt
#   docker compose up          # with Mosquitto: compose.yaml
#
# Any image with Python 3.11+ (`python3`, its venv module and a shell) can stand in for the
# official one: docker build --build-arg PYTHON_IMAGE=... (the image tests build on Debian's
# python3, tests/packaging/). The build needs no BuildKit feature.
ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: the project and its dependencies installed in a virtual environment -------------
# The environment has no pip of its own: pip runs from a second one, left in this stage.
FROM ${PYTHON_IMAGE} AS build
RUN python3 -m venv /opt/pip \
 && /opt/pip/bin/pip install --no-cache-dir --upgrade pip \
 && python3 -m venv --without-pip /opt/ocpp-mqtt
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN /opt/pip/bin/pip --python /opt/ocpp-mqtt/bin/python install --no-cache-dir .

# ---- runtime: no compiler, no build files, no pip cache -------------------------------------
# The same base image: the environment's python is a link to the base's.
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/ocpp-mqtt/bin:$PATH
COPY --from=build /opt/ocpp-mqtt /opt/ocpp-mqtt
RUN groupadd --system --gid 10001 ocpp \
 && useradd --system --uid 10001 --gid ocpp --home-dir /data --shell /usr/sbin/nologin ocpp \
 && mkdir -p /data && chown ocpp:ocpp /data

# Defaults for a container; any OCPP_MQTT_* variable given at run time wins. The listen address
# stays the program's default (0.0.0.0:9000), so --compat ocpp2mqtt's LISTEN_PORT still applies.
# The embedded broker listens on 127.0.0.1 inside the container: point OCPP_MQTT_MQTT at a broker.
ENV OCPP_MQTT_STORE=/data/ocpp-mqtt.sqlite3 \
    OCPP_MQTT_LOG_FORMAT=json
WORKDIR /data
VOLUME /data
USER 10001:10001

# 9000: charge points (ws://host:9000/<path>/<identity>) and the /health, /ready probes.
# 8080: the admin API and /metrics (bound to 127.0.0.1 by default: publish it only with a token).
EXPOSE 9000 8080

# Liveness from the /health probe of the charge point port, found from the same settings as
# `serve` reads; python, since the image has no curl.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["python", "-m", "ocpp_mqtt.healthcheck"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["ocpp-mqtt"]
CMD ["serve"]
