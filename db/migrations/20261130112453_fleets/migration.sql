CREATE TYPE "fleet_background" AS ENUM('BLUE', 'PURPLE', 'PINK', 'RED', 'ORANGE', 'YELLOW', 'GREEN', 'BLACK');--> statement-breakpoint
CREATE TYPE "fleet_kind" AS ENUM('TEXT', 'PHOTO');--> statement-breakpoint
CREATE TYPE "reply_policy" AS ENUM('EVERYONE', 'FOLLOWING', 'NOBODY');--> statement-breakpoint
ALTER TYPE "notification_kind" ADD VALUE 'FLEET_REPLY';--> statement-breakpoint
CREATE TABLE "fleet_replies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"fleet_id" uuid NOT NULL,
	"author_id" uuid NOT NULL,
	"text" text,
	"emoji" text,
	"created_at" timestamp(3) with time zone NOT NULL,
	CONSTRAINT "fleet_replies_one_of" CHECK (("text" is null) <> ("emoji" is null)),
	CONSTRAINT "fleet_replies_text_length" CHECK (char_length("text") <= 280)
);
--> statement-breakpoint
CREATE TABLE "fleet_uploads" (
	"id" text PRIMARY KEY,
	"user_id" uuid NOT NULL,
	"media_key" text NOT NULL,
	"expires_at" timestamp(3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fleet_views" (
	"fleet_id" uuid,
	"viewer_id" uuid,
	"viewed_at" timestamp(3) with time zone NOT NULL,
	CONSTRAINT "fleet_views_pkey" PRIMARY KEY("fleet_id","viewer_id")
);
--> statement-breakpoint
CREATE TABLE "fleets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"author_id" uuid NOT NULL,
	"kind" "fleet_kind" NOT NULL,
	"text" text,
	"background" "fleet_background" DEFAULT 'BLUE'::"fleet_background" NOT NULL,
	"photo_key" text,
	"caption" text,
	"reply_policy" "reply_policy" NOT NULL,
	"space_id" uuid,
	"created_at" timestamp(3) with time zone NOT NULL,
	"expires_at" timestamp(3) with time zone NOT NULL,
	CONSTRAINT "fleets_text_length" CHECK (char_length("text") <= 280 and char_length("caption") <= 280),
	CONSTRAINT "fleets_kind_content" CHECK (("kind" = 'PHOTO' and "photo_key" is not null and "text" is null) or ("kind" = 'TEXT' and "photo_key" is null and "caption" is null and ("text" is not null or "space_id" is not null)))
);
--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "fleet_id" uuid;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "fleet_reply_policy" "reply_policy" DEFAULT 'EVERYONE'::"reply_policy" NOT NULL;--> statement-breakpoint
CREATE INDEX "fleet_replies_list_idx" ON "fleet_replies" ("fleet_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "fleet_uploads_expires_idx" ON "fleet_uploads" ("expires_at");--> statement-breakpoint
CREATE INDEX "fleet_views_list_idx" ON "fleet_views" ("fleet_id","viewed_at" DESC NULLS LAST,"viewer_id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "fleet_views_viewer_idx" ON "fleet_views" ("viewer_id");--> statement-breakpoint
CREATE INDEX "fleets_author_idx" ON "fleets" ("author_id","expires_at");--> statement-breakpoint
CREATE INDEX "fleets_expires_idx" ON "fleets" ("expires_at");--> statement-breakpoint
ALTER TABLE "fleet_replies" ADD CONSTRAINT "fleet_replies_fleet_id_fleets_id_fkey" FOREIGN KEY ("fleet_id") REFERENCES "fleets"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "fleet_replies" ADD CONSTRAINT "fleet_replies_author_id_users_id_fkey" FOREIGN KEY ("author_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "fleet_uploads" ADD CONSTRAINT "fleet_uploads_user_id_users_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "fleet_views" ADD CONSTRAINT "fleet_views_fleet_id_fleets_id_fkey" FOREIGN KEY ("fleet_id") REFERENCES "fleets"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "fleet_views" ADD CONSTRAINT "fleet_views_viewer_id_users_id_fkey" FOREIGN KEY ("viewer_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "fleets" ADD CONSTRAINT "fleets_author_id_users_id_fkey" FOREIGN KEY ("author_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "fleets" ADD CONSTRAINT "fleets_space_id_spaces_id_fkey" FOREIGN KEY ("space_id") REFERENCES "spaces"("id") ON DELETE SET NULL;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_fleet_id_fleets_id_fkey" FOREIGN KEY ("fleet_id") REFERENCES "fleets"("id") ON DELETE CASCADE;