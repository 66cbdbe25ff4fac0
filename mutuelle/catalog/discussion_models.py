"""Catalogue models of the professionals' discussions: threads on datasets, indicators and
scenarios, their comments, who follows what, and the notifications that follow from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mutuelle.catalog.models import Base
from mutuelle.core.clock import now
from mutuelle.core.ids import new_id

#: Objects a thread can be about (and a user can follow).
DISCUSSABLE_KINDS = ("dataset", "indicator", "scenario")


class Thread(Base):
    """A discussion about one object; it is visible to whoever may read the object, and an
    internal thread only to members of the object's organisations."""

    __tablename__ = "thread"
    __table_args__ = (Index("ix_thread_object", "object_kind", "object_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    object_kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    internal: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[str | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    #: Started by a visitor without an account (a problem report: ``discussions.threads
    #: .report_as_visitor``); its first message has no author.
    visitor: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The address such a visitor left to be answered ("" otherwise): shown to the object's
    #: editors only.
    contact: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    comments: Mapped[list[Comment]] = relationship(
        back_populates="thread", order_by="Comment.id", cascade="all, delete-orphan")


class Comment(Base):
    """One message of a thread (plain text; mentions are ``@`` followed by an email)."""

    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[str | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    thread: Mapped[Thread] = relationship(back_populates="comments")


class Follow(Base):
    """A user following an object: new versions and replies reach their page."""

    __tablename__ = "follow"
    __table_args__ = (UniqueConstraint("user_id", "object_kind", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    object_kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Notification(Base):
    """Something new for a user: a reply, a mention, a new version of what they follow."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))   # reply, mention, version
    object_kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(100))
    thread_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    text: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
