CREATE TYPE "audio_tier" AS ENUM('STAGE', 'AUDIENCE');--> statement-breakpoint
CREATE TABLE "audience_relays" (
	"space_id" uuid,
	"instance" text,
	"mountpoint" bigint NOT NULL,
	"port" integer NOT NULL,
	"forwarder" bigint,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audience_relays_pkey" PRIMARY KEY("space_id","instance")
);
--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "audio_tier" "audio_tier";--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "audio_instance" text;--> statement-breakpoint
CREATE INDEX "participants_audience_edge_idx" ON "participants" ("audio_instance") WHERE "audio_tier" = 'AUDIENCE';--> statement-breakpoint
ALTER TABLE "audience_relays" ADD CONSTRAINT "audience_relays_space_id_spaces_id_fkey" FOREIGN KEY ("space_id") REFERENCES "spaces"("id") ON DELETE CASCADE;--> statement-breakpoint
-- Connections made before tiers existed were all AudioBridge seats.
UPDATE "participants" SET "audio_tier" = 'STAGE' WHERE "mixer_participant_id" IS NOT NULL;
