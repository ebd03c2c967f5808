ALTER TABLE "participants" ADD COLUMN "spoke" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "seen_at" timestamp(3) with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "spaces" ADD COLUMN "peak_listeners" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "participants_seen_idx" ON "participants" ("seen_at") WHERE "left_at" is null;