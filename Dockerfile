# The image docker-compose.yaml runs: the official Airflow 3.3 image plus woohub and its pinned dependencies.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.txt requirements.lock pyproject.toml README.md /opt/woohub/
COPY --chown=airflow:root include /opt/woohub/include
RUN pip install --no-cache-dir -r /opt/woohub/requirements.txt -c /opt/woohub/requirements.lock \
 && pip install --no-cache-dir --no-deps -e /opt/woohub
