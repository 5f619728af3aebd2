"""The HTTP API (`/api/v1`) and the dashboard, served inside `loa serve`.

`app.create_app()` builds the FastAPI application; its lifespan runs the controller
(`controller.app.Controller`: the MQTT link, ingest, delivery, the scheduler), so the
pages and the API read the same live state the controller acts on. `server.serve()`
runs it under uvicorn.
"""
