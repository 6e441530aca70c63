FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN OMNI2_SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
# uvicorn (through omni2.web, which keeps TCP_NODELAY with several workers): the ASGI app serves
# known callers' tool calls on its event loop (docs/ARCHITECTURE.md, "The fast tool-call path").
CMD ["python", "-m", "omni2.web", "omni2.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "4", "--no-access-log"]
