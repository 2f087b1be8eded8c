# The connector's own image: `python -m connector run` is its entrypoint.
#
#   docker run --cap-add NET_ADMIN --device /dev/net/tun \
#       -v $PWD/cc1.yaml:/etc/connector/connector.yaml:ro cclab/connector:latest
#
# It holds the connector package, the small `yamlissues` package its config
# loader reports problems with, `tcbpf` (its fast path's loader), and its four
# runtime dependencies only (no lab code; pyroute2 deletes the conntrack entries
# the routed path forgets).
# The system tools it drives (nft, ip, sysctl, sshd) come from the
# base image, made from Debian's packages (`python -m lab.images --connector`).
ARG BASE_IMAGE=cclab/base:bookworm
FROM ${BASE_IMAGE}

COPY build/wheels /tmp/wheels
RUN python3 -m venv /opt/connector/venv \
    && /opt/connector/venv/bin/pip install -q --no-index --find-links /tmp/wheels \
       pydantic PyYAML dnspython pyroute2 \
    && rm -rf /tmp/wheels \
    && mkdir -p /etc/connector /var/lib/connector /var/log/connector

COPY connector /opt/connector/connector
COPY yamlissues /opt/connector/yamlissues
COPY tcbpf /opt/connector/tcbpf
RUN /opt/connector/venv/bin/python -m compileall -q /opt/connector/connector \
    /opt/connector/yamlissues /opt/connector/tcbpf
ENV PYTHONPATH=/opt/connector PATH=/opt/connector/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
LABEL org.cclab.role="connector"
WORKDIR /opt/connector
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "connector", "run"]
CMD ["--config", "/etc/connector/connector.yaml", \
     "--events", "/var/log/connector/events.jsonl", "--state", "/var/lib/connector"]
