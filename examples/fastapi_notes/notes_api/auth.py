"""Who is calling: an RS256 bearer token issued by the team's identity service."""

from __future__ import annotations

from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, WebSocket, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from notes_api.settings import settings

bearer = HTTPBearer(auto_error=False)


def user_from_token(token: str) -> str:
    try:
        claims = jwt.decode(
            token, settings.jwt_public_key, algorithms=["RS256"],
            audience=settings.jwt_audience, issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid token") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "token has no subject")
    return subject


async def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token")
    return user_from_token(credentials.credentials)


def websocket_user(websocket: WebSocket) -> str | None:
    token = websocket.query_params.get("token")
    if not token:
        return None
    try:
        return user_from_token(token)
    except HTTPException:
        return None
