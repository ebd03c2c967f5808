DROP INDEX "participants_present_idx";--> statement-breakpoint
CREATE INDEX "participants_present_idx" ON "participants" ("space_id","role","joined_at","id") WHERE "left_at" is null;--> statement-breakpoint
CREATE INDEX "participants_hands_idx" ON "participants" ("space_id","joined_at","id") WHERE "left_at" is null and "hand_raised";