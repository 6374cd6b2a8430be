# The Python 3.11 side: gateway and action server (one image, two commands). Built from the lock file.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/app.lock requirements/app.lock
RUN pip install --no-cache-dir -r requirements/app.lock
COPY core core
COPY handoff handoff
COPY connectors connectors
COPY actions actions
COPY knowledge_base knowledge_base
ENV PYTHONPATH=/app OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
CMD ["python", "-m", "core"]
