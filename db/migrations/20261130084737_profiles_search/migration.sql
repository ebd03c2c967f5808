-- pg_trgm (trusted since PostgreSQL 13: the database owner may create it) for the search indexes below.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "bio" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "avatar_key" text;--> statement-breakpoint
CREATE INDEX "spaces_title_trgm_idx" ON "spaces" USING gin (lower("title") gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "users_handle_trgm_idx" ON "users" USING gin (lower("handle") gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "users_display_name_trgm_idx" ON "users" USING gin (lower("display_name") gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "users_follower_count_idx" ON "users" ("follower_count" DESC NULLS LAST,"id");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_bio_length" CHECK (char_length("bio") <= 160);